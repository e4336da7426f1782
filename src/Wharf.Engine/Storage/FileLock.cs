using System.Diagnostics;

namespace Wharf.Engine.Storage;

/// <summary>
/// An exclusive lock between wharf processes on one file. On Unix .NET takes flock(LOCK_EX|LOCK_NB)
/// for <see cref="FileShare.None"/>, so a second process's open fails while the first holds it;
/// the wait is bounded and ends in a clear error that names what was locked.
/// The wait retries the non-blocking lock with growing pauses rather than blocking in flock(2):
/// flock has no timeout (only a signal interrupts it, which .NET does not offer per thread), a
/// release makes no file event to wait on, and a thread left blocked past the deadline could still
/// take the lock later for nobody. Locks are held for milliseconds, so the retries are few.
/// </summary>
public static class FileLock
{
    /// <summary>Holds the lock on <paramref name="path"/> until the returned handle is disposed.</summary>
    public static IDisposable Acquire(string path, string what, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var limit = timeout ?? TimeSpan.FromMinutes(2);
        var clock = Stopwatch.StartNew();
        int pause = 2;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (clock.Elapsed < limit)
            {
                // Short first waits keep an uncontended hand-over fast; longer ones spare the CPU.
                Thread.Sleep(pause);
                pause = Math.Min(pause * 2, 50);
            }
            catch (IOException e)
            {
                throw new WharfException($"locking {what} ({path}): timed out after {limit.TotalSeconds:0} seconds waiting for another wharf process", e);
            }
        }
    }

    /// <summary>
    /// Waits for the lock on <paramref name="path"/> without blocking a thread, until
    /// <paramref name="timeout"/> or cancellation. The lock is flock(2)'s: a holder that is killed
    /// releases it with its last descriptor, so a waiter never waits on the dead.
    /// </summary>
    public static async Task<IDisposable> AcquireAsync(string path, string what, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        var clock = Stopwatch.StartNew();
        int pause = 2;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (clock.Elapsed < timeout)
            {
                await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
                pause = Math.Min(pause * 2, 100);
            }
            catch (IOException e)
            {
                throw new WharfException($"locking {what} ({path}): timed out after {timeout.TotalSeconds:0} seconds waiting for another wharf process", e);
            }
        }
    }

    /// <summary>Runs <paramref name="action"/> holding the lock on <paramref name="path"/>.</summary>
    public static T Locked<T>(string path, string what, Func<T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        using (Acquire(path, what))
        {
            return action();
        }
    }
}
