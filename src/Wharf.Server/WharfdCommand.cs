using System.CommandLine;
using Wharf.Registry.Gc;

namespace Wharf.Server;

/// <summary>
/// wharfd's command line, parsed the way <c>wharf</c> parses its own: <c>serve</c> (what runs when
/// no subcommand is given), <c>gc</c> and <c>fsck</c>. An argument in ASP.NET Core's configuration
/// form with a section (<c>--Registry:OpenRegistry=true</c>, <c>--Logging:LogLevel:Default Debug</c>)
/// goes to the host's configuration untouched; any other flag wharfd does not know is a usage error.
/// </summary>
public static class WharfdCommand
{
    /// <summary>The exit code of a command line wharfd cannot parse (as getopt-style tools use it).</summary>
    public const int UsageError = 2;

    /// <summary>Where data lives when neither --data-dir, WHARF_DATA_DIR nor Registry:DataDirectory says.</summary>
    public const string DefaultDataDirectory = "wharf-data";

    public const string DataDirectoryVariable = "WHARF_DATA_DIR";

    private static readonly string[] Subcommands = ["serve", "gc", "fsck", "migrate"];

    // What the root command answers itself; anything else without a subcommand is serve's.
    private static readonly string[] RootFlags = ["-h", "--help", "-?", "/?", "/h", "--version"];

    public static async Task<int> InvokeAsync(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var (own, configuration) = SplitConfiguration(args);
        if (own.Count == 0 || !(Subcommands.Contains(own[0]) || RootFlags.Contains(own[0])))
        {
            own.Insert(0, "serve");
        }

        var root = new RootCommand("wharfd: a private OCI registry with projects, roles, robot accounts and quotas. Without a subcommand it serves.")
        {
            ServeCommand.Create(configuration, output, error),
            Maintenance("gc", "Remove blobs that no manifest references", "--dry-run", "Only report what would be removed",
                (dir, database, flag, ct) => RegistryMaintenance.CollectGarbageAsync(dir, database, flag, output, ct)),
            Maintenance("fsck", "Check that the metadata and the stored blobs agree", "--repair", "Also repair what can be repaired",
                (dir, database, flag, ct) => RegistryMaintenance.CheckAsync(dir, database, flag, output, ct)),
            MigrateCommand.Create(output, error),
        };

        // No @response-file expansion: a data directory may start with '@'.
        var parse = root.Parse(own, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0)
        {
            await error.WriteLineAsync($"Error: {parse.Errors[0].Message} (see 'wharfd --help')").ConfigureAwait(false);
            return UsageError;
        }

        // ProcessTerminationTimeout = null: SIGTERM and Ctrl+C belong to the ASP.NET Core host,
        // which shuts the server down gracefully.
        var invocation = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        return await parse.InvokeAsync(invocation).ConfigureAwait(false);
    }

    /// <summary>The data directory option every subcommand shares.</summary>
    internal static Option<string?> DataDirectoryOption() => new("--data-dir")
    {
        Description = $"Blobs, uploads and the database (default ./{DefaultDataDirectory}, or ${DataDirectoryVariable}); relative to the current directory",
        HelpName = "path",
    };

    /// <summary>An explicit path, else WHARF_DATA_DIR, else the configured one, else the default; absolute against the current directory.</summary>
    internal static string ResolveDataDirectory(string? option, string? configured = null) =>
        Path.GetFullPath(FirstSet(option, Environment.GetEnvironmentVariable(DataDirectoryVariable), configured) ?? DefaultDataDirectory);

    private static string? FirstSet(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrEmpty(v));

    private static Command Maintenance(string name, string description, string flagName, string flagDescription, Func<string, string?, bool, CancellationToken, Task<int>> run)
    {
        var dataDir = DataDirectoryOption();
        var database = new Option<string?>("--database")
        {
            Description = $"The metadata database the instances use: postgresql://USER:PASSWORD@HOST:PORT/DB (or ${ServeCommand.DatabaseVariable}); default SQLite in the data directory. Refused while any instance's heartbeat is live",
            HelpName = "url",
        };
        var flag = new Option<bool>(flagName) { Description = flagDescription };
        var command = new Command(name, description) { dataDir, database, flag };
        command.SetAction((parse, ct) => run(
            ResolveDataDirectory(parse.GetValue(dataDir)),
            FirstSet(parse.GetValue(database), Environment.GetEnvironmentVariable(ServeCommand.DatabaseVariable)),
            parse.GetValue(flag),
            ct));
        return command;
    }

    /// <summary>
    /// Separates ASP.NET Core configuration arguments (<c>--Section:Key=Value</c> or
    /// <c>--Section:Key Value</c>) from wharfd's own. A key needs a section so that a mistyped
    /// flag (<c>--data-dri=x</c>) is an error rather than a setting nobody reads.
    /// </summary>
    internal static (List<string> Own, List<string> Configuration) SplitConfiguration(IReadOnlyList<string> args)
    {
        var own = new List<string>();
        var configuration = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            string key = a.StartsWith("--", StringComparison.Ordinal) ? a[2..].Split('=', 2)[0] : "";
            if (!key.Contains(':', StringComparison.Ordinal) || key.StartsWith(':') || key.EndsWith(':'))
            {
                own.Add(a);
                continue;
            }

            configuration.Add(a);
            if (!a.Contains('=', StringComparison.Ordinal) && i + 1 < args.Count)
            {
                configuration.Add(args[++i]);
            }
        }

        return (own, configuration);
    }
}
