using System.Globalization;
using Npgsql;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Data;

/// <summary>
/// The PostgreSQL fixture itself: whatever ends a test run, it leaves no postgres, no watchdog
/// (running or stopped) and no <c>wharf-pg-*</c> directory behind.
/// </summary>
public sealed class PostgreSqlServerTests
{
    [Fact]
    public async Task DisposeAsync_Running_LeavesNoProcessAndNoDirectory()
    {
        var server = await PostgreSqlServer.StartAsync();
        string directory = server.Root;
        IReadOnlyList<int> pids;
        try
        {
            await AssertAnswersAsync(server);
            pids = server.ProcessIds;
            Assert.Equal(2, pids.Count);
            Assert.NotEmpty(Daemons.WithCommandLine(directory));
        }
        finally
        {
            await server.DisposeAsync();
        }

        Assert.Empty(Daemons.WithCommandLine(directory));
        Assert.All(pids, pid => Assert.False(Alive(pid), $"process {pid} is still there ({State(pid)})"));
        Assert.False(Directory.Exists(directory), $"{directory} is still there");
    }

    [Fact]
    public async Task Watchdog_InputClosedAsByTheHostsDeath_StopsPostgresAndRemovesDirectory()
    {
        var server = await PostgreSqlServer.StartAsync();
        string directory = server.Root;
        try
        {
            await AssertAnswersAsync(server);
            IReadOnlyList<int> pids = server.ProcessIds;

            server.CloseWatchdogInput();

            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while ((pids.Any(Alive) || Directory.Exists(directory)) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            Assert.All(pids, pid => Assert.False(Alive(pid), $"process {pid} is still there ({State(pid)})"));
            Assert.Empty(Daemons.WithCommandLine(directory));
            Assert.False(Directory.Exists(directory), $"{directory} is still there");
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Postgres_RunsInASessionOfItsOwn()
    {
        await using var server = await PostgreSqlServer.StartAsync();
        await AssertAnswersAsync(server);

        // Field 6 of /proc/PID/stat: the session. A terminal's job-control signals (Ctrl-Z, Ctrl-C)
        // go to the terminal's session only, never to postgres.
        int postmaster = server.ProcessIds[0];
        Assert.Equal(postmaster, StatField(postmaster, 6));
        Assert.NotEqual(StatField(Environment.ProcessId, 6), StatField(postmaster, 6));
    }

    private static async Task AssertAnswersAsync(PostgreSqlServer server)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString("postgres"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        Assert.Equal(1, await command.ExecuteScalarAsync());
    }

    // Gone, or a zombie its parent has not reaped yet (it runs nothing).
    private static bool Alive(int pid) => State(pid) is { } state && state != "Z";

    private static string? State(int pid) => Stat(pid) is { } fields ? fields[0] : null;

    private static int StatField(int pid, int field) =>
        int.Parse(Stat(pid)![field - 3], NumberStyles.Integer, CultureInfo.InvariantCulture);

    // Fields from 3 on (after "pid (comm) "), so fields[0] is field 3, the state.
    private static string[]? Stat(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
    }
}
