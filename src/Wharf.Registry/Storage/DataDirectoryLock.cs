using System.Globalization;

namespace Wharf.Registry.Storage;

/// <summary>
/// One wharfd per data directory in the embedded (SQLite) mode: a second one would serve its own stale
/// manifest cache beside the first. An exclusive flock on <c>wharfd.lock</c> (.NET takes flock for
/// <see cref="FileShare.None"/>), held for the server's life; the kernel releases it when the holder
/// dies, so a crash never leaves a stale lock. <c>wharfd.pid</c> names the holder for the message.
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    private readonly FileStream _lock;

    private DataDirectoryLock(FileStream held) => _lock = held;

    public static DataDirectoryLock Acquire(string dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(dataDirectory);
        string lockPath = Path.Combine(dataDirectory, "wharfd.lock");
        string pidPath = Path.Combine(dataDirectory, "wharfd.pid");
        FileStream held;
        try
        {
            held = new FileStream(lockPath, PrivateFiles.Create(FileMode.OpenOrCreate, FileAccess.ReadWrite));
        }
        catch (IOException e)
        {
            string holder = File.Exists(pidPath) ? File.ReadAllText(pidPath).Trim() : "unknown";
            throw new DataDirectoryInUseException(
                $"the data directory {dataDirectory} is in use by another wharfd (PID {holder}); one wharfd serves one data directory in the embedded mode", e);
        }

        using (var pid = new FileStream(pidPath, PrivateFiles.Create(FileMode.Create, FileAccess.Write)))
        using (var writer = new StreamWriter(pid))
        {
            writer.Write(Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        }

        return new DataDirectoryLock(held);
    }

    public void Dispose() => _lock.Dispose();
}

/// <summary>Another wharfd holds the data directory.</summary>
public sealed class DataDirectoryInUseException(string message, Exception inner) : IOException(message, inner);
