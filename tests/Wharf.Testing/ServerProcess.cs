using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace Wharf.Testing;

/// <summary>
/// A server running as its own process: started, probed until <c>GET /v2/</c> answers, killed by
/// PID with its children. Its stdout and stderr are kept so a failing test can show what the server
/// said. A process the tests forgot, or left behind when a fixture failed half-way, is killed when
/// the test host exits.
/// </summary>
public sealed class ServerProcess : IDisposable
{
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(90);
    private static readonly ConcurrentDictionary<ServerProcess, bool> _running = new();

    private readonly List<string> _log = [];
    private readonly Func<ProcessStartInfo> _startInfo;
    private readonly Uri _probe;
    private Process? _process;

    static ServerProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var server in _running.Keys)
            {
                server.Kill();
            }
        };
    }

    /// <param name="name">What the log lines and errors call the server.</param>
    /// <param name="startInfo">The command, asked again on each start so it can write fresh config.</param>
    /// <param name="probe">The server's <c>/v2/</c>, polled until it answers.</param>
    public ServerProcess(string name, Func<ProcessStartInfo> startInfo, Uri probe)
    {
        Name = name;
        _startInfo = startInfo;
        _probe = probe;
    }

    public string Name { get; }

    public int? ProcessId
    {
        get
        {
            var process = _process;
            return process is { HasExited: false } ? process.Id : null;
        }
    }

    /// <summary>
    /// Starts the process and waits until the probe answers 200 or 401 — 401 is a working registry
    /// too, it only asks for credentials (distribution spec, end-1). Throws
    /// <see cref="ServerExitedException"/> when the process exits first (its port taken, say), with
    /// what it printed; on any failure nothing is left running.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_process is { HasExited: false } running)
        {
            throw new InvalidOperationException($"{Name} is already running (pid {running.Id})");
        }

        var startInfo = _startInfo();
        startInfo.UseShellExecute = false;
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        startInfo.RedirectStandardInput = true;

        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => Append("out", e.Data);
        process.ErrorDataReceived += (_, e) => Append("err", e.Data);
        Append("fixture", $"starting {startInfo.FileName} {string.Join(' ', startInfo.ArgumentList)}");
        process.Start();
        _process = process;
        _running[this] = true;
        try
        {
            process.StandardInput.Close();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            await WaitUntilAnsweringAsync(process, _probe, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Kill();
            throw;
        }
    }

    /// <summary>Kills the process and starts it again with the same command, as a crash and restart would.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        Kill();
        await StartAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task WaitUntilAnsweringAsync(Process process, Uri probe, CancellationToken cancellationToken)
    {
        // Test servers use self-signed certificates; the probe only asks whether something answers.
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        var elapsed = Stopwatch.StartNew();
        Exception? last = null;
        while (elapsed.Elapsed < StartupTimeout)
        {
            if (process.HasExited)
            {
                // Let the output readers drain so the report says why.
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                throw new ServerExitedException($"{Name} exited with {process.ExitCode} before answering GET {probe}\n{Logs}");
            }

            try
            {
                using var response = await http.GetAsync(probe, cancellationToken).ConfigureAwait(false);
                if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized)
                {
                    Append("fixture", $"answering after {elapsed.ElapsedMilliseconds} ms");
                    return;
                }

                last = new HttpRequestException($"GET {probe} answered {(int)response.StatusCode}");
            }
            catch (HttpRequestException e)
            {
                last = e;
            }
            catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                last = e;
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        throw new TimeoutException($"{Name} did not answer GET {probe} within {StartupTimeout}: {last?.Message}\n{Logs}");
    }

    /// <summary>
    /// Stops the process the way a service manager does (SIGTERM) and waits, at most
    /// <paramref name="timeout"/>, until it exited and everything it printed is in the log; killed
    /// if it does not exit in time. Returns its exit code, or null when it had to be killed.
    /// </summary>
    public async Task<int?> StopAsync(TimeSpan timeout)
    {
        var process = _process;
        if (process is null)
        {
            return null;
        }

        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
        {
            await kill.WaitForExitAsync().ConfigureAwait(false);
        }

        using var waited = new CancellationTokenSource(timeout);
        try
        {
            // Also waits for the end of the redirected output, so the log is complete.
            await process.WaitForExitAsync(waited.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
            return null;
        }

        int code = process.ExitCode;
        Interlocked.CompareExchange(ref _process, null, process);
        _running.TryRemove(this, out _);
        process.Dispose();
        return code;
    }

    /// <summary>Kills the process and its children by PID, as a crash would: no graceful shutdown. Idempotent.</summary>
    public void Kill()
    {
        var process = Interlocked.Exchange(ref _process, null);
        _running.TryRemove(this, out _);
        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            process.WaitForExit(10_000);
            Append("fixture", $"killed pid {process.Id}");
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        finally
        {
            process.Dispose();
        }
    }

    /// <summary>A position in the log; pass it to <see cref="LogsSince"/> to get what came after.</summary>
    public int LogMark
    {
        get
        {
            lock (_log)
            {
                return _log.Count;
            }
        }
    }

    public string Logs => LogsSince(0);

    public string LogsSince(int mark)
    {
        lock (_log)
        {
            return string.Join('\n', _log.Skip(mark));
        }
    }

    public void Dispose() => Kill();

    private void Append(string stream, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.Add($"[{Name} {stream}] {line}");
        }
    }
}

public sealed class ServerExitedException(string message) : Exception(message);
