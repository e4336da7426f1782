using Wharf.Registry.Quotas;

namespace Wharf.Registry.Tests.Quotas;

public sealed class QuotaSizeTests
{
    [Theory]
    [InlineData(0L, "0 B")]
    [InlineData(999L, "999 B")]
    [InlineData(1_500L, "1.5 kB")]
    [InlineData(12_300_000L, "12.3 MB")]
    [InlineData(10_000_000L, "10 MB")]
    [InlineData(9_960_000L, "9.96 MB")]
    [InlineData(2_000_000_000L, "2 GB")]
    public void Format_Bytes_HumanDecimalUnits(long bytes, string expected) => Assert.Equal(expected, QuotaSize.Format(bytes));
}
