using Wharf.Cli.Output;

namespace Wharf.Cli.Tests.Output;

public class FormattingTests
{
    [Theory]
    [InlineData(0.4, "Less than a second")]
    [InlineData(1, "1 second")]
    [InlineData(59, "59 seconds")]
    [InlineData(60, "About a minute")]
    [InlineData(180, "3 minutes")]
    [InlineData(3600, "About an hour")]
    [InlineData(5 * 3600, "5 hours")]
    [InlineData(3 * 86400, "3 days")]
    [InlineData(20 * 86400, "2 weeks")]
    [InlineData(90 * 86400, "3 months")]
    [InlineData(800 * 86400, "2 years")]
    public void HumanDuration_GoUnitsBuckets(double seconds, string expected)
    {
        Assert.Equal(expected, Units.HumanDuration(TimeSpan.FromSeconds(seconds)));
    }

    [Theory]
    [InlineData(2_000_000, "2 MB")]
    [InlineData(2_310_000, "2.31 MB")]
    [InlineData(274_000_000, "274 MB")]
    [InlineData(1_070_000_000, "1.07 GB")]
    [InlineData(999, "999 B")]
    [InlineData(307_954, "308 kB")]
    public void ImageSize_ThreeSignificantDigitsWithSpace(long size, string expected)
    {
        Assert.Equal(expected, Units.ImageSize(size));
    }

    [Fact]
    public void HumanSize_DfStyle_NoSpace()
    {
        Assert.Equal("10.36MB", Units.HumanSize(10_360_000));
        Assert.Equal("0B", Units.HumanSize(0));
    }

    [Fact]
    public void Table_ColumnsAtLeastTwelveWideLastUnpadded()
    {
        string table = Table.Render([["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], ["localhost/a-much-longer-name", "1", "abc", "2 seconds ago", "2 MB"]]);

        Assert.Equal(
            "REPOSITORY                    TAG         IMAGE ID    CREATED        SIZE\n" +
            "localhost/a-much-longer-name  1           abc         2 seconds ago  2 MB\n",
            table);
    }

    [Fact]
    public void GoTemplate_TableHeaderAndFields()
    {
        var template = new GoTemplate("table {{.ID}}\\t{{.Repository}}");

        Assert.True(template.IsTable);
        Assert.Equal("ID\tREPOSITORY", template.Header());
        Assert.Equal("abc\trepo", template.Render((f, _) => f == "ID" ? "abc" : "repo"));
        Assert.Throws<FormatException>(() => new GoTemplate("{{.Nope}}").Render((_, _) => null));
    }
}
