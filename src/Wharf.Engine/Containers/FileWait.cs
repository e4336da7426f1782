using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Wharf.Engine.Containers;

/// <summary>What wakes a <see cref="FileWait"/> to check its condition again.</summary>
internal sealed record WaitSources
{
    /// <summary>
    /// Directories whose entries the condition reads: an entry created, written and closed, renamed
    /// in or out, or deleted wakes the wait. One that does not exist yet is watched from the first
    /// wake after it appears, so list its parent too (or give a <see cref="Recheck"/>).
    /// </summary>
    public IReadOnlyList<string> Directories { get; init; } = [];

    /// <summary>Processes whose exit wakes the wait (a pidfd each).</summary>
    public IReadOnlyList<int> Processes { get; init; } = [];

    /// <summary>
    /// Also check at this interval: for a condition that reads something no file event reports
    /// (the OCI runtime's view of a container). Null: only events wake the wait.
    /// </summary>
    public TimeSpan? Recheck { get; init; }

    /// <summary>Tests only: take the polling fall-back even where inotify works.</summary>
    internal bool PollOnly { get; init; }
}

/// <summary>
/// Waits until a condition on files or processes holds, without a sleep loop: the directories the
/// condition reads are watched with inotify, the processes it depends on with a pidfd each, and the
/// thread blocks in poll(2) on those and on the cancellation token until one of them fires, the
/// recheck interval passes or the deadline does. The condition is checked once every watch is
/// armed and again after every wake, so a file that appeared just before the watch existed is
/// never missed. Where inotify cannot be had (the per-user instance or watch limit reached) the
/// wait falls back to checking every 20 ms, the interval the loops it replaced used.
/// </summary>
internal static partial class FileWait
{
    /// <summary>How often a condition on the OCI runtime's state is checked besides the file events that usually announce it.</summary>
    public static readonly TimeSpan RuntimeRecheck = TimeSpan.FromMilliseconds(250);

    /// <summary>The bounded poll used only where inotify or a pidfd is unavailable.</summary>
    internal static readonly TimeSpan FallbackPoll = TimeSpan.FromMilliseconds(20);

    /// <summary>Waits until <paramref name="path"/> exists; false when <paramref name="timeout"/> passed first.</summary>
    public static bool UntilExists(string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Until(() => File.Exists(path), new WaitSources { Directories = [Path.GetDirectoryName(Path.GetFullPath(path))!] }, timeout, cancellationToken);
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> is true (returns true) or <paramref name="timeout"/>
    /// has passed (returns false after a last check); cancellation throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public static bool Until(Func<bool> condition, WaitSources sources, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentNullException.ThrowIfNull(sources);
        var clock = Stopwatch.StartNew();
        using var watch = sources.PollOnly ? null : Watch.TryOpen(sources, cancellationToken);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            watch?.Arm();
            if (condition())
            {
                return true;
            }

            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            var slice = left;
            if (sources.Recheck is { } recheck && recheck < slice)
            {
                slice = recheck;
            }

            if (watch is null || watch.Incomplete)
            {
                slice = slice < FallbackPoll ? slice : FallbackPoll;
            }

            if (watch is null)
            {
                cancellationToken.WaitHandle.WaitOne(slice);
            }
            else
            {
                watch.Wait(slice);
            }
        }
    }

    /// <summary>An inotify instance on the directories, a pidfd per process and an eventfd the cancellation token writes to.</summary>
    private sealed class Watch : IDisposable
    {
        private const uint Mask = Native.IN_CREATE | Native.IN_CLOSE_WRITE | Native.IN_MOVED_TO | Native.IN_MOVED_FROM | Native.IN_DELETE | Native.IN_ONLYDIR;

        private readonly int _inotify;
        private readonly int _cancel;
        private readonly List<int> _processes = [];
        private readonly List<string> _unwatched;
        private readonly CancellationTokenRegistration _registration;
        private readonly byte[] _buffer = new byte[4096];
        private bool _directoriesUnwatchable;
        private long _exitSeenAt;

        private Watch(int inotify, int cancel, WaitSources sources, CancellationToken cancellationToken)
        {
            _inotify = inotify;
            _cancel = cancel;
            _unwatched = [.. sources.Directories];
            foreach (int pid in sources.Processes.Where(p => p > 0 && p != Environment.ProcessId).Distinct())
            {
                int fd = OpenProcess(pid);
                if (fd >= 0)
                {
                    _processes.Add(fd);
                }
                else if (Marshal.GetLastPInvokeError() != Native.ESRCH)
                {
                    // No pidfd (a kernel before 5.3): that exit is seen by the fall-back poll.
                    ProcessesUnwatchable = true;
                }
            }

            _registration = cancellationToken.UnsafeRegister(static state =>
            {
                ulong one = 1;
                _ = Native.Write((int)state!, ref one, sizeof(ulong));
            }, cancel);
        }

        private bool ProcessesUnwatchable { get; set; }

        /// <summary>
        /// Something the wait depends on has no watch (a process without a pidfd, a directory the
        /// watch limit refused), or a process exited within the last second and may not be reaped
        /// yet: poll meanwhile.
        /// </summary>
        public bool Incomplete => ProcessesUnwatchable || _directoriesUnwatchable
            || (_exitSeenAt != 0 && Stopwatch.GetElapsedTime(_exitSeenAt) < ReapGrace);

        /// <summary>How long after a process's exit its reaping is waited for by polling.</summary>
        private static readonly TimeSpan ReapGrace = TimeSpan.FromSeconds(1);

        public static Watch? TryOpen(WaitSources sources, CancellationToken cancellationToken)
        {
            int inotify = Native.InotifyInit1(Native.IN_NONBLOCK | Native.IN_CLOEXEC);
            if (inotify < 0)
            {
                // The per-user instance limit (fs.inotify.max_user_instances) is reached: poll.
                return null;
            }

            int cancel = Native.EventFd(0, Native.EFD_NONBLOCK | Native.EFD_CLOEXEC);
            if (cancel < 0)
            {
                _ = Native.Close(inotify);
                return null;
            }

            return new Watch(inotify, cancel, sources, cancellationToken);
        }

        /// <summary>Adds a watch for every listed directory that exists now and has none yet.</summary>
        public void Arm()
        {
            for (int i = _unwatched.Count - 1; i >= 0; i--)
            {
                if (Native.InotifyAddWatch(_inotify, _unwatched[i], Mask) >= 0)
                {
                    _unwatched.RemoveAt(i);
                }
                else if (Marshal.GetLastPInvokeError() is not (Native.ENOENT or Native.ENOTDIR))
                {
                    // ENOSPC (fs.inotify.max_user_watches) or a directory we may not read: poll.
                    _directoriesUnwatchable = true;
                }
            }
        }

        /// <summary>Blocks until an event, a process exit, cancellation or <paramref name="slice"/>.</summary>
        public void Wait(TimeSpan slice)
        {
            var fds = new Native.PollFd[2 + _processes.Count];
            fds[0] = new Native.PollFd { Fd = _inotify, Events = Native.POLLIN };
            fds[1] = new Native.PollFd { Fd = _cancel, Events = Native.POLLIN };
            for (int i = 0; i < _processes.Count; i++)
            {
                fds[2 + i] = new Native.PollFd { Fd = _processes[i], Events = Native.POLLIN };
            }

            int ms = (int)Math.Min(int.MaxValue, Math.Ceiling(slice.TotalMilliseconds));
            if (Native.Poll(fds, (nuint)fds.Length, ms) <= 0)
            {
                // Timed out, or EINTR: the caller checks again either way.
                return;
            }

            if (fds[0].Revents != 0)
            {
                // The events only say "look again"; which entry changed is the condition's business.
                while (Native.Read(_inotify, _buffer, (nuint)_buffer.Length) > 0)
                {
                }
            }

            for (int i = _processes.Count - 1; i >= 0; i--)
            {
                if (fds[2 + i].Revents != 0)
                {
                    // Exited: the pidfd stays readable, so it leaves the set. Its parent may not have
                    // reaped it yet, and a condition that asks kill(pid, 0) still sees it until then:
                    // check again shortly for a while rather than only at the next event.
                    _ = Native.Close(_processes[i]);
                    _processes.RemoveAt(i);
                    _exitSeenAt = Stopwatch.GetTimestamp();
                }
            }
        }

        public void Dispose()
        {
            // Waits for a cancellation callback in progress, so the eventfd is not closed under it.
            _registration.Dispose();
            _ = Native.Close(_cancel);
            _ = Native.Close(_inotify);
            foreach (int fd in _processes)
            {
                _ = Native.Close(fd);
            }
        }

        private static int OpenProcess(int pid)
        {
            try
            {
                return Native.PidfdOpen(pid, 0);
            }
            catch (EntryPointNotFoundException)
            {
                // A C library before glibc 2.36.
                Marshal.SetLastPInvokeError(Native.ENOSYS);
                return -1;
            }
        }
    }

    private static partial class Native
    {
        public const int IN_NONBLOCK = 0x800;
        public const int IN_CLOEXEC = 0x80000;
        public const int EFD_NONBLOCK = 0x800;
        public const int EFD_CLOEXEC = 0x80000;
        public const uint IN_CLOSE_WRITE = 0x8;
        public const uint IN_MOVED_FROM = 0x40;
        public const uint IN_MOVED_TO = 0x80;
        public const uint IN_CREATE = 0x100;
        public const uint IN_DELETE = 0x200;
        public const uint IN_ONLYDIR = 0x01000000;
        public const short POLLIN = 1;
        public const int ENOENT = 2;
        public const int ESRCH = 3;
        public const int ENOTDIR = 20;
        public const int ENOSYS = 38;

        [StructLayout(LayoutKind.Sequential)]
        public struct PollFd
        {
            public int Fd;
            public short Events;
            public short Revents;
        }

        [LibraryImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
        public static partial int InotifyInit1(int flags);

        [LibraryImport("libc", EntryPoint = "inotify_add_watch", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int InotifyAddWatch(int fd, string path, uint mask);

        [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
        public static partial int EventFd(uint initial, int flags);

        [LibraryImport("libc", EntryPoint = "pidfd_open", SetLastError = true)]
        public static partial int PidfdOpen(int pid, uint flags);

        [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
        public static partial int Poll([In, Out] PollFd[] fds, nuint count, int timeoutMs);

        [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
        public static partial nint Read(int fd, [Out] byte[] buffer, nuint count);

        [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
        public static partial nint Write(int fd, ref ulong value, nuint count);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        public static partial int Close(int fd);
    }
}
