using Wharf.Registry.Storage;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Storage;

/// <summary>
/// The data directory's flock: instances that share the directory on purpose hold it shared and run
/// side by side; an exclusive holder (embedded wharfd, offline gc/fsck) and they keep each other out.
/// Two opens of the lock file conflict within one process as between processes (flock is per open file).
/// </summary>
public sealed class DataDirectoryLockTests
{
    [Fact]
    public void Acquire_SharedTwice_BothHoldIt()
    {
        using var directory = new TempDirectory("wharf-lock");

        using var first = DataDirectoryLock.Acquire(directory.Path, shared: true);
        using var second = DataDirectoryLock.Acquire(directory.Path, shared: true);
    }

    [Fact]
    public void Acquire_ExclusiveWhileShared_IsRefusedAndTheOtherWayRound()
    {
        using var directory = new TempDirectory("wharf-lock");

        using (DataDirectoryLock.Acquire(directory.Path, shared: true))
        {
            Assert.Throws<DataDirectoryInUseException>(() => DataDirectoryLock.Acquire(directory.Path));
        }

        using (DataDirectoryLock.Acquire(directory.Path))
        {
            var e = Assert.Throws<DataDirectoryInUseException>(() => DataDirectoryLock.Acquire(directory.Path, shared: true));
            Assert.Contains("Registry:SharedDataDirectory", e.Message, StringComparison.Ordinal);
        }

        // Released: a shared holder may come in again.
        using var again = DataDirectoryLock.Acquire(directory.Path, shared: true);
    }
}
