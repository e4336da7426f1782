using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Wharf.Testing;

/// <summary>
/// A real PostgreSQL from the distribution (<c>/usr/lib/postgresql/N/bin</c>, Debian's
/// <c>postgresql</c> package): <c>initdb</c> into a private temp directory, <c>postgres</c> on
/// 127.0.0.1 at a free port with its socket in that directory, run as the <c>postgres</c> account when
/// the tests run as root (initdb refuses root), in a session of its own. Stopped by PID on dispose;
/// when the test host exits without disposing (killed by the runner, say), the watchdog shell in
/// <see cref="LaunchAsync"/> sees its stdin close and stops postgres and removes the directory. A
/// missing or broken PostgreSQL fails the test that needs it; nothing skips.
/// <see cref="Shared"/> is one server for the whole test process; each test or wharfd gets its own
/// database in it (<see cref="CreateDatabaseAsync"/>).
/// </summary>
public sealed partial class PostgreSqlServer : IAsyncDisposable
{
    public const string User = "wharf";

    private static readonly SemaphoreSlim _sharedLock = new(1, 1);
    private static PostgreSqlServer? _shared;
    private static int _databases;

    private readonly string _directory;
    private Process? _process;
    private int _pid;
    private ulong _pidStart;

    static PostgreSqlServer()
    {
        // The test host may be killed while its exit handlers run (the runner does not wait long),
        // so this only signals: the watchdog and postgres finish the stop on their own.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => _shared?.Signal(keepDirectory: false);
    }

    private PostgreSqlServer(string directory, int port)
    {
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The private directory holding the cluster and its socket (removed on dispose).</summary>
    public string Root => _directory;

    /// <summary>The postmaster's PID and the watchdog shell's (for tests of the fixture).</summary>
    public IReadOnlyList<int> ProcessIds => [.. new[] { _pid, _process?.Id ?? 0 }.Where(pid => pid > 0)];

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
                server.Kill(keepDirectory: true); // the cluster is tried again on another port
            }
        }

        TempDirectory.TryDelete(directory);
        throw new InvalidOperationException("PostgreSQL did not start", last);
    }

    public async ValueTask DisposeAsync()
    {
        await Task.Run(() => Kill(keepDirectory: false)).ConfigureAwait(false);
        TempDirectory.TryDelete(_directory);
    }

    /// <summary>
    /// Stops postgres and its watchdog by PID: SIGINT (PostgreSQL's fast shutdown) to the postmaster,
    /// the watchdog's stdin closed so it ends on its own, SIGKILL to whichever is still there after a
    /// while. Never <c>Process.Kill(entireProcessTree)</c>: on Linux it SIGSTOPs each process before
    /// killing it, and a host that dies in between (the runner kills a test host whose exit takes too
    /// long) leaves a stopped process that nothing resumes.
    /// </summary>
    private void Kill(bool keepDirectory)
    {
        Signal(keepDirectory);
        if (_pid > 0)
        {
            if (!WaitGone(_pid, _pidStart, TimeSpan.FromSeconds(10)))
            {
                SendSignal(_pid, _pidStart, SigKill);
                WaitGone(_pid, _pidStart, TimeSpan.FromSeconds(5));
            }

        }

        if (_process is { } process)
        {
            if (!process.WaitForExit(10_000))
            {
                SendSignal(process.Id, null, SigKill);
                process.WaitForExit(5_000);
            }

            process.Dispose();
            _process = null;
        }
    }

    /// <summary>
    /// Closes the watchdog's stdin and nothing else, as the test host's death does: the watchdog
    /// alone must then stop postgres and remove the directory (tests of the fixture).
    /// </summary>
    public void CloseWatchdogInput() => _process?.StandardInput.Close();

    /// <summary>Asks for the stop without waiting for it: SIGINT to the postmaster, EOF to the watchdog.</summary>
    private void Signal(bool keepDirectory)
    {
        if (_pid > 0)
        {
            SendSignal(_pid, _pidStart, SigInt);
        }

        try
        {
            if (keepDirectory)
            {
                _process?.StandardInput.WriteLine("keep");
            }

            _process?.StandardInput.Close();
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
        {
        }
    }

    private const int SigInt = 2;
    private const int SigKill = 9;

    /// <summary>Signals <paramref name="pid"/> if it is still the process that started at <paramref name="started"/> (any, when null).</summary>
    private static void SendSignal(int pid, ulong? started, int signal)
    {
        if (started is null || Daemons.StartTime(pid) == started)
        {
            _ = NativeMethods.Kill(pid, signal);
        }
    }

    private static bool WaitGone(int pid, ulong started, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Daemons.StartTime(pid) == started && !IsZombie(pid))
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            Thread.Sleep(50);
        }

        return true;
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    private async Task LaunchAsync(string bin, string data, bool root)
    {
        // postgres runs under a small shell that watches our end of its stdin: when the test host
        // exits by any means (its ProcessExit handlers do not run when the test runner kills it),
        // the pipe closes, and the shell stops postgres (fast shutdown) and removes its directory
        // (unless told "keep": a launch that failed is retried on the same cluster).
        // postgres runs in a session of its own (setsid): no terminal's job-control signals reach it.
        // As root, setpriv execs the shell as postgres in place; runuser would sit between as a
        // watching parent that stops itself whenever its child is stopped.
        const string Watchdog = """
            dir="$1"; shift
            setsid "$@" </dev/null &
            pid=$!
            read -r what
            kill -INT "$pid" 2>/dev/null
            wait "$pid"
            [ "$what" = keep ] || rm -rf "$dir"
            """;
        var arguments = new List<string> { "-c", Watchdog, "postgres-watchdog", _directory, Path.Combine(bin, "postgres") };
        // Durability is not under test here: fsync off keeps many small databases fast.
        arguments.AddRange(["-D", data, "-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-k", _directory,
            "-F", "-c", "max_connections=400", "-c", "shared_buffers=32MB", "-c", "full_page_writes=off"]);
        var start = new ProcessStartInfo(root ? "setpriv" : "/bin/sh")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        string[] asPostgres = root ? ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", "/bin/sh"] : [];
        foreach (string arg in asPostgres.Concat(arguments))
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

        // The postmaster's own PID: first line of postmaster.pid.
        string pidFile = Path.Combine(data, "postmaster.pid");
        if (File.Exists(pidFile) && int.TryParse(File.ReadLines(pidFile).First(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int pid)
            && Daemons.StartTime(pid) is { } started)
        {
            _pid = pid;
            _pidStart = started;
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

    private static partial class NativeMethods
    {
        [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
        internal static partial int Kill(int pid, int signal);
    }
}
