using Wharf.Engine.Jobs;

namespace Wharf.Engine.Tests.Jobs;

/// <summary>How wharf reads what Slurm reports: filename patterns, pending reasons, times.</summary>
public sealed class SlurmReportTests
{
    [Fact]
    public void Expand_EveryPattern_AsSbatchWroteItForABatchStep()
    {
        // The name real sbatch gave this pattern for job 1 named "pat", run by root on node "vm".
        string? path = SlurmFilePattern.Expand("/o/o-%x-%j-%u-%N-%%-%A-%a-%4j-%J-%s-%t-%n.txt", "1", "pat", "root", "vm.example");
        Assert.Equal("/o/o-pat-1-root-vm-%-1-4294967294-0001-1-batch-0-0.txt", path);
    }

    [Fact]
    public void Expand_NodeNotKnownYet_IsNullAndPlainPathsStayAsTheyAre()
    {
        Assert.Null(SlurmFilePattern.Expand("/o/%N.log", "7", "n", "u", null));
        Assert.Equal("/o/plain.log", SlurmFilePattern.Expand("/o/plain.log", "7", "n", "u", null));
        Assert.Equal("/o/%j.log", SlurmFilePattern.Expand("/o/\\%j.log", "7", "n", "u", null));
    }

    [Theory]
    [InlineData("PartitionConfig", true)]
    [InlineData("PartitionTimeLimit", true)]
    [InlineData("PartitionNodeLimit", true)]
    [InlineData("ReqNodeNotAvail", true)]
    [InlineData("ReqNodeNotAvail, UnavailableNodes:n1", true)]
    [InlineData("BadConstraints", true)]
    [InlineData("None", false)]
    [InlineData("Priority", false)]
    [InlineData("Resources", false)]
    public void NeverRuns_PendingReason_OnlyReasonsThatCannotClear(string reason, bool never)
    {
        Assert.Equal(never, SlurmExecutor.NeverRuns(reason));
    }

    [Fact]
    public void Time_SlurmTimestamps_LocalTimeOrNullForUnknown()
    {
        Assert.Equal(new DateTimeOffset(new DateTime(2026, 3, 1, 12, 0, 5, DateTimeKind.Local)), SlurmExecutor.Time("2026-03-01T12:00:05"));
        Assert.Null(SlurmExecutor.Time("Unknown"));
        Assert.Null(SlurmExecutor.Time("N/A"));
        Assert.Null(SlurmExecutor.Time("None"));
    }
}
