using System.Runtime.InteropServices;

namespace Wharf.Engine.Jobs;

/// <summary>
/// SIGTERM and SIGINT turned into a cancellation: the first one cancels <see cref="Token"/> and
/// decides the exit code (143 or 130, the shell's 128 + signal); later ones (Slurm sends TERM more
/// than once at a time limit, an impatient user presses Ctrl-C twice) only run
/// <see cref="Signalled"/> handlers again, which must tolerate that. Nothing here throws from a
/// signal handler: an exception there would end the process with SIGABRT.
/// </summary>
public sealed class TerminationSignals : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly PosixSignalRegistration _term;
    private readonly PosixSignalRegistration _int;
    private int _exitCode;

    public TerminationSignals(CancellationToken cancellationToken = default)
    {
        _cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        _int = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
    }

    /// <summary>Cancelled by the first TERM or INT (or the caller's token).</summary>
    public CancellationToken Token => _cts.Token;

    /// <summary>143 after TERM, 130 after INT; null while no signal came.</summary>
    public int? ExitCode => Volatile.Read(ref _exitCode) is > 0 and var code ? code : null;

    /// <summary>Runs on every signal, on the signal thread; exceptions from it are dropped.</summary>
    public event Action? Signalled;

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        Interlocked.CompareExchange(ref _exitCode, context.Signal == PosixSignal.SIGINT ? 130 : 143, 0);
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // A signal racing the end of the command: nothing is left to cancel.
        }
        catch (AggregateException)
        {
            // A cancellation callback failed; the command still sees its token cancelled.
        }

        try
        {
            Signalled?.Invoke();
        }
#pragma warning disable CA1031 // a handler's failure must not crash the process from the signal thread
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    public void Dispose()
    {
        _term.Dispose();
        _int.Dispose();
        _cts.Dispose();
    }
}
