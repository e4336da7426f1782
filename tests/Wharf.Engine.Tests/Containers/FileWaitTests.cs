using System.Diagnostics;
using Wharf.Engine.Containers;

namespace Wharf.Engine.Tests.Containers;

public sealed class FileWaitTests : IDisposable
{
    /// <summary>Long enough that only a lost wake-up reaches it; the tests bound themselves by <see cref="HangGuard"/>.</summary>
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(10);

    /// <summary>Not a timing check: a wait that never wakes fails the test instead of hanging the run.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(2);

    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-filewait-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void UntilExists_FileAlreadyThere_TrueEvenWithNoTimeLeft()
    {
        string file = Path.Combine(_dir, "pid");
        File.WriteAllText(file, "1");

        Assert.True(FileWait.UntilExists(file, TimeSpan.Zero, CancellationToken.None));
    }

    [Fact]
    public async Task Until_FileAppearsAfterTheWatchIsArmed_WakesOnTheEvent()
    {
        string file = Path.Combine(_dir, "pid");
        using var firstCheck = new ManualResetEventSlim();
        int checks = 0;
        var writer = Task.Run(() =>
        {
            firstCheck.Wait();
            Thread.Sleep(500);
            File.WriteAllText(file, "42");
        });

        bool met = await Task.Run(() => FileWait.Until(
            () =>
            {
                Interlocked.Increment(ref checks);
                firstCheck.Set();
                return File.Exists(file);
            },
            new WaitSources { Directories = [_dir] },
            Long,
            CancellationToken.None)).WaitAsync(HangGuard);
        await writer;

        Assert.True(met);
        // Woken by the directory's events (create, close), not by a 20 ms poll, which would have
        // checked about 25 times in the half second.
        Assert.InRange(checks, 2, 9);
    }

    [Fact]
    public async Task Until_FileAppearsRightAfterACheck_IsNotMissed()
    {
        // The file appears after a check said no and before the wait blocks: the armed watch has
        // queued its event, so the wait returns at once instead of sleeping to the deadline.
        string file = Path.Combine(_dir, "exit");
        int checks = 0;

        bool met = await Task.Run(() => FileWait.Until(
            () =>
            {
                if (Interlocked.Increment(ref checks) == 1)
                {
                    File.WriteAllText(file, "0");
                    return false;
                }

                return File.Exists(file);
            },
            new WaitSources { Directories = [_dir] },
            Long,
            CancellationToken.None)).WaitAsync(HangGuard);

        Assert.True(met);
        Assert.True(checks >= 2);
    }

    [Fact]
    public void UntilExists_FileNeverAppears_FalseAtTheDeadline()
    {
        Assert.False(FileWait.UntilExists(Path.Combine(_dir, "never"), TimeSpan.FromMilliseconds(200), CancellationToken.None));
        Assert.False(File.Exists(Path.Combine(_dir, "never")));
    }

    [Fact]
    public async Task Until_Cancelled_ThrowsOperationCanceled()
    {
        using var cts = new CancellationTokenSource();
        var waiting = Task.Run(() => FileWait.UntilExists(Path.Combine(_dir, "never"), Long, cts.Token));
        cts.CancelAfter(100);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(HangGuard));
    }

    [Fact]
    public async Task Until_DirectoryMadeDuringTheWait_IsWatchedOnceItExists()
    {
        // runc makes a container's state directory while wharf waits: its parent's event arms the
        // watch on it, and the file made inside it then wakes the wait.
        string sub = Path.Combine(_dir, "state");
        string file = Path.Combine(sub, "ready");
        using var firstCheck = new ManualResetEventSlim();
        int checks = 0;
        var writer = Task.Run(() =>
        {
            firstCheck.Wait();
            Directory.CreateDirectory(sub);
            Thread.Sleep(300);
            File.WriteAllText(file, string.Empty);
        });

        bool met = await Task.Run(() => FileWait.Until(
            () =>
            {
                Interlocked.Increment(ref checks);
                firstCheck.Set();
                return File.Exists(file);
            },
            new WaitSources { Directories = [_dir, sub] },
            Long,
            CancellationToken.None)).WaitAsync(HangGuard);
        await writer;

        Assert.True(met);
        Assert.InRange(checks, 2, 9);
    }

    [Fact]
    public async Task Until_ProcessExits_WakesOnItsPidfd()
    {
        using var sleeper = Process.Start(new ProcessStartInfo("sleep", "0.5") { UseShellExecute = false })!;
        try
        {
            bool met = await Task.Run(() => FileWait.Until(
                () => sleeper.HasExited,
                new WaitSources { Processes = [sleeper.Id] },
                Long,
                CancellationToken.None)).WaitAsync(HangGuard);

            Assert.True(met);
            Assert.True(sleeper.HasExited);
        }
        finally
        {
            if (!sleeper.HasExited)
            {
                sleeper.Kill();
            }
        }
    }

    [Fact]
    public async Task Until_WithoutInotify_ThePollStillSeesTheFile()
    {
        string file = Path.Combine(_dir, "slirp.sock");
        var writer = Task.Run(async () =>
        {
            await Task.Delay(100);
            await File.WriteAllTextAsync(file, string.Empty);
        });

        bool met = await Task.Run(() => FileWait.Until(
            () => File.Exists(file),
            new WaitSources { Directories = [_dir], PollOnly = true },
            Long,
            CancellationToken.None)).WaitAsync(HangGuard);
        await writer;

        Assert.True(met);
    }

    [Fact]
    public async Task Until_RecheckGiven_SeesAChangeNoEventReports()
    {
        // The runtime's state is not a file in a watched directory: the recheck finds it.
        var clock = Stopwatch.StartNew();
        bool met = await Task.Run(() => FileWait.Until(
            () => clock.Elapsed > TimeSpan.FromMilliseconds(300),
            new WaitSources { Directories = [_dir], Recheck = TimeSpan.FromMilliseconds(50) },
            Long,
            CancellationToken.None)).WaitAsync(HangGuard);

        Assert.True(met);
    }
}
