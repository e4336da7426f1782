using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine.Tests.Images;

public class ImageNamesTests
{
    private static ImageRecord Image(string id, params string[] names) => new()
    {
        Id = id.PadRight(64, '0'),
        Digest = "sha256:" + new string('d', 64),
        ManifestMediaType = MediaTypes.OciManifest,
        Names = [.. names],
    };

    private static readonly ImageRecord Busybox = Image("b681cbd7", "127.0.0.1:5056/lab/bb:1", "127.0.0.1:5056/lab/v3:latest");
    private static readonly ImageRecord Mine = Image("e3e3ae97", "localhost/myimg:latest");
    private static readonly ImageRecord Alpine = Image("91ef0af6", "docker.io/library/alpine:latest");
    private static readonly ImageRecord[] All = [Busybox, Mine, Alpine];

    [Theory]
    [InlineData("e3e3", "e3e3ae97")]
    [InlineData("e3e3ae97", "e3e3ae97")]
    [InlineData("myimg", "e3e3ae97")]
    [InlineData("localhost/myimg:latest", "e3e3ae97")]
    [InlineData("alpine", "91ef0af6")]
    [InlineData("bb:1", "b681cbd7")]
    [InlineData("lab/bb:1", "b681cbd7")]
    [InlineData("v3", "b681cbd7")]
    [InlineData("127.0.0.1:5056/lab/bb:1", "b681cbd7")]
    public void Lookup_PodmansRules_FindsImage(string input, string idPrefix)
    {
        var found = ImageNames.Lookup(All, input, []);

        Assert.NotNull(found);
        Assert.StartsWith(idPrefix, found.Id, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bb")]
    [InlineData("other/busybox")]
    [InlineData("nosuch:1")]
    [InlineData("127.0.0.1:5056/lab/bb:2")]
    public void Lookup_NoMatch_Null(string input)
    {
        Assert.Null(ImageNames.Lookup(All, input, []));
    }

    [Fact]
    public void Lookup_SearchRegistry_TriedBeforeDockerHub()
    {
        var onSearch = Image("aaaa", "reg.example/alpine:latest");

        Assert.Same(onSearch, ImageNames.Lookup([Alpine, onSearch], "alpine", ["reg.example"]));
    }

    [Fact]
    public void Lookup_AmbiguousIdPrefix_Throws()
    {
        var a = Image("abc1");
        var b = Image("abc2");

        Assert.Throws<WharfException>(() => ImageNames.Lookup([a, b], "abc", []));
    }

    [Theory]
    [InlineData("myimg", "localhost/myimg:latest")]
    [InlineData("foo/bar:baz", "localhost/foo/bar:baz")]
    [InlineData("reg.example/lab/x", "reg.example/lab/x:latest")]
    [InlineData("docker.io/alpine", "docker.io/library/alpine:latest")]
    public void ForNewImage_BareNames_GetLocalhostAndLatest(string input, string expected)
    {
        Assert.Equal(expected, ImageNames.ForNewImage(input));
    }

    [Theory]
    [InlineData("127.0.0.1:5056/lab/bb:1", "127.0.0.1:5056/lab/bb", "1")]
    [InlineData("localhost:5000/x", "localhost:5000/x", "<none>")]
    [InlineData("reg/x@sha256:" + "0000000000000000000000000000000000000000000000000000000000000000", "reg/x", "<none>")]
    public void Split_AtLastColonAfterSlash(string name, string repository, string tag)
    {
        Assert.Equal((repository, tag), ImageNames.Split(name));
    }

    [Fact]
    public void ForNewImage_InvalidReference_WharfError()
    {
        Assert.Throws<WharfException>(() => ImageNames.ForNewImage("Bad:Ref"));
    }
}
