using Wharf.Client;
using Wharf.Engine.Containers;
using Wharf.Engine.Jobs;

namespace Wharf.Engine.Tests.Jobs;

public sealed class JobClockTests : IDisposable
{
    private static readonly DateTimeOffset Submitted = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-jobclock-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Refresh_SupervisorNeverReportedWithinTwoMinutesOfEngineClock_FailedAtThatTime()
    {
        var clock = new ManualClock(Submitted.AddMinutes(3));
        var jobs = Jobs(clock);
        jobs.Store.Write(new JobRecord { Id = "1", Spec = new JobSpec { Image = "a" }, LogPath = Path.Combine(_dir, "log"), Submitted = Submitted });

        var job = jobs.Status("1");

        Assert.Equal(JobStates.Failed, job.State);
        Assert.Equal(clock.Now, job.Ended);
    }

    [Fact]
    public void Refresh_EngineClockWithinTwoMinutes_StillQueued()
    {
        var jobs = Jobs(new ManualClock(Submitted.AddMinutes(1)));
        jobs.Store.Write(new JobRecord { Id = "1", Spec = new JobSpec { Image = "a" }, LogPath = Path.Combine(_dir, "log"), Submitted = Submitted });

        Assert.Equal(JobStates.Queued, jobs.Status("1").State);
    }

    private JobEngine Jobs(TimeProvider time)
    {
        Directory.CreateDirectory(Path.Combine(_dir, "etc"));
        File.WriteAllText(Path.Combine(_dir, "etc", "registries.conf"), string.Empty);
        var env = new HostEnvironment(_ => null, Path.Combine(_dir, "home"), 0, Path.Combine(_dir, "etc"));
        var images = new ImageEngine(new EngineOptions { Environment = env, Root = Path.Combine(_dir, "graph"), RunRoot = Path.Combine(_dir, "run"), Time = time });
        return new JobEngine(new ContainerEngine(images, TextWriter.Null), []);
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
