using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Wharf.Testing;

/// <summary>
/// A real PostgreSQL from the distribution (<c>/usr/lib/postgresql/N/bin</c>, Debian's
/// <c>postgresql</c> package): <c>initdb</c> into a private temp directory, <c>postgres</c> on
/// 127.0.0.1 at a free port with its socket in that directory, run as the <c>postgres</c> account when
/// the tests run as root (initdb refuses root). Killed by PID on dispose, and when the test host
/// exits (<see cref="Daemons"/>) even if dispose never ran. A missing or broken PostgreSQL fails the
/// test that needs it; nothing skips.
/// <see cref="Shared"/> is one server for the whole test process; each test or wharfd gets its own
/// database in it (<see cref="CreateDatabaseAsync"/>).
/// </summary>
public sealed class PostgreSqlServer : IAsyncDisposable
{
    public const string User = "wharf";

    private static readonly SemaphoreSlim _sharedLock = new(1, 1);
    private static PostgreSqlServer? _shared;
    private static int _databases;

    private readonly string _directory;
    private Process? _process;
    private int _pid;

    static PostgreSqlServer()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (_shared is { } shared)
            {
                shared.Kill();
                TempDirectory.TryDelete(shared._directory);
            }
        };
    }

    private PostgreSqlServer(string directory, int port)
    {
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The maintenance database's URL (superuser <see cref="User"/>, trust authentication on loopback).</summary>
    public string AdminUrl => Url("postgres");

    /// <summary>The test process's server, started on first use.</summary>
    public static async Task<PostgreSqlServer> SharedAsync()
    {
        await _sharedLock.WaitAsync().ConfigureAwait(false);
        try
        {
            return _shared ??= await StartAsync().ConfigureAwait(false);
        }
        finally
        {
            _sharedLock.Release();
        }
    }

    public string Url(string database) => string.Create(CultureInfo.InvariantCulture, $"postgresql://{User}@127.0.0.1:{Port}/{database}");

    /// <summary>A new, empty database; its URL.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "wharf")
    {
        string name = string.Create(CultureInfo.InvariantCulture, $"{prefix}_{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}");
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync().ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\";", connection);
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        return Url(name);
    }

    /// <summary>Drops a database made by <see cref="CreateDatabaseAsync"/> (its connections are closed first); quietly.</summary>
    public async Task DropDatabaseAsync(string url)
    {
        string name = new Uri(url).AbsolutePath.TrimStart('/');
        try
        {
            await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
            await connection.OpenAsync().ConfigureAwait(false);
            await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE);", connection);
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        catch (NpgsqlException)
        {
        }
    }

    public string ConnectionString(string database) =>
        string.Create(CultureInfo.InvariantCulture, $"Host=127.0.0.1;Port={Port};Username={User};Database={database};Pooling=false");

    /// <summary>Starts a server of its own (tests of the fixture, of several instances).</summary>
    public static async Task<PostgreSqlServer> StartAsync()
    {
        string bin = FindBinaries();
        string directory = Directory.CreateTempSubdirectory("wharf-pg-").FullName;
        string data = Path.Combine(directory, "data");
        bool root = Environment.UserName == "root";
        if (root)
        {
            // The cluster belongs to the postgres account: it needs to reach and own the directory.
            await RunAsync("chown", ["-R", "postgres:postgres", directory]).ConfigureAwait(false);
        }

        try
        {
            await RunAsync(AsPostgres(root, Path.Combine(bin, "initdb")), [.. AsPostgresArgs(root, Path.Combine(bin, "initdb")),
                "-D", data, "-U", User, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]).ConfigureAwait(false);
        }
        catch
        {
            TempDirectory.TryDelete(directory);
            throw;
        }

        Exception? last = null;
        for (int attempt = 0; attempt < 5; attempt++)
        {
            var server = new PostgreSqlServer(directory, LoopbackPort.Free());
            try
            {
                await server.LaunchAsync(bin, data, root).ConfigureAwait(false);
                return server;
            }
            catch (Exception e) when (e is InvalidOperationException or NpgsqlException or TimeoutException)
            {
                last = e;
                server.Kill();
            }
        }

        TempDirectory.TryDelete(directory);
        throw new InvalidOperationException("PostgreSQL did not start", last);
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await Task.Yield();
        TempDirectory.TryDelete(_directory);
    }

    private void Kill()
    {
        var process = _process;
        if (_pid > 0)
        {
            Daemons.Forget(_pid);
            try
            {
                using var postgres = Process.GetProcessById(_pid);
                postgres.Kill(entireProcessTree: true);
                postgres.WaitForExit(10_000);
            }
            catch (ArgumentException)
            {
            }
            catch (InvalidOperationException)
            {
            }
        }

        if (process is not null)
        {
            try
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
            }

            Daemons.Forget(process.Id);
            process.Dispose();
            _process = null;
        }
    }

    private async Task LaunchAsync(string bin, string data, bool root)
    {
        // postgres runs under a small shell that watches our end of its stdin: when the test host
        // exits by any means (its ProcessExit handlers do not run when the test runner kills it),
        // the pipe closes, and the shell stops postgres (fast shutdown) and removes its directory.
        const string Watchdog = """
            dir="$1"; shift
            "$@" </dev/null &
            pid=$!
            cat >/dev/null
            kill -INT "$pid" 2>/dev/null
            wait "$pid"
            rm -rf "$dir"
            """;
        var arguments = new List<string> { "-c", Watchdog, "postgres-watchdog", _directory, Path.Combine(bin, "postgres") };
        // Durability is not under test here: fsync off keeps many small databases fast.
        arguments.AddRange(["-D", data, "-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-k", _directory,
            "-F", "-c", "max_connections=400", "-c", "shared_buffers=32MB", "-c", "full_page_writes=off"]);
        var start = new ProcessStartInfo(AsPostgres(root, "/bin/sh"))
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string arg in AsPostgresArgs(root, "/bin/sh").Concat(arguments))
        {
            start.ArgumentList.Add(arg);
        }

        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { log.Enqueue(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { log.Enqueue(e.Data); } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        Daemons.Track("postgres (watchdog)", process.Id);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"postgres exited ({process.ExitCode}): {string.Join('\n', log)}");
            }

            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
                await connection.OpenAsync().ConfigureAwait(false);
                break;
            }
            catch (NpgsqlException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100).ConfigureAwait(false);
            }
        }

        // The postmaster's own PID (runuser may sit between it and us): first line of postmaster.pid.
        string pidFile = Path.Combine(data, "postmaster.pid");
        if (File.Exists(pidFile) && int.TryParse(File.ReadLines(pidFile).First(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int pid))
        {
            _pid = pid;
            Daemons.Track("postgres", pid);
        }
    }

    private static string FindBinaries()
    {
        var versions = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Where(d => File.Exists(Path.Combine(d, "bin", "postgres")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : 0).ToList()
            : [];
        return versions.Count > 0
            ? Path.Combine(versions[0], "bin")
            : throw new InvalidOperationException("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/postgres): install Debian's postgresql package (test.sh does)");
    }

    private static string AsPostgres(bool root, string program) => root ? "runuser" : program;

    private static string[] AsPostgresArgs(bool root, string program) => root ? ["-u", "postgres", "--", program] : [];

    private static async Task RunAsync(string program, IReadOnlyList<string> args)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed ({process.ExitCode}): {await stderr.ConfigureAwait(false)}{await stdout.ConfigureAwait(false)}");
        }
    }
}
