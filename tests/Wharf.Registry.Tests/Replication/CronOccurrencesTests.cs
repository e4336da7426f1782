using Wharf.Registry.Replication;
using Xunit;

namespace Wharf.Registry.Tests.Replication;

public sealed class CronOccurrencesTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 12, 0, 30, TimeSpan.Zero);

    [Fact]
    public void NewSchedule_CountsFromNow_NoCatchUp()
    {
        var occurrences = new CronOccurrences();

        // Every minute at second 0: at 12:00:30 the first occurrence is 12:01:00, not 12:00:00.
        Assert.Empty(occurrences.Due([(1, "0 * * * * *")], Start));
        Assert.Empty(occurrences.Due([(1, "0 * * * * *")], Start.AddSeconds(29)));
        var due = occurrences.Due([(1, "0 * * * * *")], Start.AddSeconds(31));
        Assert.Equal([(1L, Start.AddSeconds(30))], due);
    }

    [Fact]
    public void Advance_MovesPastNow_AndMissedOccurrencesCollapseIntoOne()
    {
        var occurrences = new CronOccurrences();
        occurrences.Due([(1, "0 * * * * *")], Start);

        // Five minutes late: one run, then the next occurrence after now.
        var late = Start.AddMinutes(5);
        Assert.Single(occurrences.Due([(1, "0 * * * * *")], late));
        occurrences.Advance(1, late);
        Assert.Empty(occurrences.Due([(1, "0 * * * * *")], late));
        Assert.Equal([(1L, new DateTimeOffset(2026, 1, 1, 12, 6, 0, TimeSpan.Zero))], occurrences.Due([(1, "0 * * * * *")], late.AddSeconds(30)));
    }

    [Fact]
    public void ChangedCron_CountsFromNowAgain_AndRemovedPolicyIsForgotten()
    {
        var occurrences = new CronOccurrences();
        occurrences.Due([(1, "0 * * * * *"), (2, "0 * * * * *")], Start);

        // Policy 1 changes to hourly at 12:00:45: its minute occurrence at 12:01 no longer comes.
        Assert.Empty(occurrences.Due([(1, "0 0 * * * *"), (2, "0 * * * * *")], Start.AddSeconds(15)));
        Assert.Equal([(2L, Start.AddSeconds(30))], occurrences.Due([(1, "0 0 * * * *"), (2, "0 * * * * *")], Start.AddSeconds(31)));

        // Policy 2 removed, then listed again: it counts from now, not from its old occurrence.
        Assert.Empty(occurrences.Due([(1, "0 0 * * * *")], Start.AddSeconds(32)));
        Assert.Empty(occurrences.Due([(1, "0 0 * * * *"), (2, "0 * * * * *")], Start.AddSeconds(33)));
    }

    [Fact]
    public void UnparsableCron_IsPassedOver()
    {
        var occurrences = new CronOccurrences();
        Assert.Empty(occurrences.Due([(1, "not a cron"), (2, null)], Start));
        Assert.Empty(occurrences.Due([(1, "not a cron"), (2, null)], Start.AddDays(1)));
    }
}
