using System.CommandLine;
using System.Data.Common;
using Wharf.Registry.Data;
using Wharf.Registry.Storage;

namespace Wharf.Server;

/// <summary>
/// <c>wharfd migrate --to postgresql://… [--data-dir PATH]</c>: copies the data directory's SQLite
/// database into an empty PostgreSQL database (<see cref="DatabaseCopy"/>), while no wharfd serves
/// the directory. Blobs stay where they are: serve the same data directory with <c>--database</c>
/// afterwards. Exit 0 copied and verified, 1 the copy failed (the target is left as it was), 2 the
/// data directory is missing, not a wharfd one, or in use.
/// </summary>
internal static class MigrateCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var dataDir = WharfdCommand.DataDirectoryOption();
        var to = new Option<string>("--to") { Description = "The PostgreSQL database to fill: postgresql://USER:PASSWORD@HOST:PORT/DB (empty)", HelpName = "url", Required = true };
        var command = new Command("migrate", "Copy the data directory's SQLite database into an empty PostgreSQL database") { dataDir, to };
        command.SetAction((parse, ct) => RunAsync(WharfdCommand.ResolveDataDirectory(parse.GetValue(dataDir)), parse.GetValue(to)!, output, error, ct));
        return command;
    }

    private static async Task<int> RunAsync(string dataDirectory, string url, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        try
        {
            _ = PostgreSqlUrl.Parse(url);
        }
        catch (FormatException e)
        {
            await error.WriteLineAsync($"Error: --to: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        string file = Path.Combine(dataDirectory, "registry.db");
        if (!File.Exists(file))
        {
            await error.WriteLineAsync($"Error: {dataDirectory} is not a wharfd data directory (no registry.db)").ConfigureAwait(false);
            return 2;
        }

        DataDirectoryLock held;
        try
        {
            held = DataDirectoryLock.Acquire(dataDirectory);
        }
        catch (DataDirectoryInUseException e)
        {
            await error.WriteLineAsync($"Error: {e.Message}; stop it first").ConfigureAwait(false);
            return 2;
        }

        using (held)
        using (var source = new RegistryDatabase(file))
        using (var target = RegistryDatabase.ForPostgreSql(url))
        {
            try
            {
                var report = await DatabaseCopy.CopyAsync(source, target, output, cancellationToken).ConfigureAwait(false);
                await output.WriteLineAsync($"copied {report.Tables.Count} tables, {report.Tables.Sum(t => t.Rows)} rows; {report.ManifestsVerified} manifests verified against their digests").ConfigureAwait(false);
                return 0;
            }
            catch (Exception e) when (e is DbException or InvalidOperationException or IOException)
            {
                await error.WriteLineAsync($"Error: migrate to PostgreSQL failed, nothing was kept there: {e.Message}").ConfigureAwait(false);
                return 1;
            }
        }
    }
}
