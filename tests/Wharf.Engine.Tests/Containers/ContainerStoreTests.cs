using Wharf.Engine.Containers;

namespace Wharf.Engine.Tests.Containers;

public sealed class ContainerStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-containers-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Refresh_WaiterGoneWithoutExitCode_FinishedAtComesFromTheEngineClock()
    {
        var at = new DateTimeOffset(2001, 2, 3, 4, 5, 6, TimeSpan.Zero);
        var store = new ContainerStore(Path.Combine(_dir, "graph"), Path.Combine(_dir, "run"), new FixedTime(at));
        var running = new ContainerRecord
        {
            Id = new string('c', 64),
            Name = "gone",
            ImageName = "img",
            ImageId = new string('d', 64),
            State = ContainerStates.Running,
            MonitorPid = 0,
        };
        store.Write(running);

        var refreshed = store.Refresh(running);

        Assert.Equal(ContainerStates.Exited, refreshed.State);
        Assert.Equal(255, refreshed.ExitCode);
        Assert.Equal(at, refreshed.FinishedAt);
        Assert.Equal(at, store.TryRead(running.Id)!.FinishedAt);
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
