using System.Globalization;

namespace Wharf.Registry.Storage;

/// <summary>
/// One wharfd per data directory in the embedded (SQLite) mode: a second one would serve its own stale
/// manifest cache beside the first. An exclusive flock on <c>wharfd.lock</c> (.NET takes flock for
/// <see cref="FileShare.None"/>), held for the server's life; the kernel releases it when the holder
/// dies, so a crash never leaves a stale lock. <c>wharfd.pid</c> names the holder for the message.
/// <para>
/// Instances that share the directory on purpose (<see cref="RegistryOptions.SharedDataDirectory"/>)
/// take the flock shared (.NET takes <c>LOCK_SH</c> for a read-only open that shares), so they run
/// side by side while an exclusive holder — an embedded-mode wharfd, offline <c>gc</c> or <c>fsck</c> — and
/// they still keep each other out. A flock binds the processes of one host; instances on several hosts
/// rely on the database alone.
/// </para>
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    private readonly FileStream _lock;

    private DataDirectoryLock(FileStream held) => _lock = held;

    public static DataDirectoryLock Acquire(string dataDirectory, bool shared = false)
    {
        ArgumentNullException.ThrowIfNull(dataDirectory);
        string lockPath = Path.Combine(dataDirectory, "wharfd.lock");
        string pidPath = Path.Combine(dataDirectory, "wharfd.pid");
        FileStream held;
        try
        {
            if (shared)
            {
                using (new FileStream(lockPath, PrivateFiles.Create(FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite)))
                {
                }

                held = new FileStream(lockPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            }
            else
            {
                held = new FileStream(lockPath, PrivateFiles.Create(FileMode.OpenOrCreate, FileAccess.ReadWrite));
            }
        }
        catch (IOException e)
        {
            string holder = File.Exists(pidPath) ? File.ReadAllText(pidPath).Trim() : "unknown";
            throw new DataDirectoryInUseException(shared
                ? $"the data directory {dataDirectory} is held exclusively by a wharfd (PID {holder}) that does not share it (Registry:SharedDataDirectory), or by an offline gc or fsck"
                : $"the data directory {dataDirectory} is in use by another wharfd (PID {holder}); one wharfd serves one data directory in the embedded mode", e);
        }

        if (shared)
        {
            // Several holders: the PID file would name only the last one, so leave it to exclusive holders.
            return new DataDirectoryLock(held);
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
