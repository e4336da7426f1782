namespace Wharf.Oci.Tests;

public class ReferenceTests
{
    private const string Sha256F = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    private static readonly string Sha512F = "sha512:" + new string('f', 128);
    private const string BusyboxDigest = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";

    // Docker's reference grammar, unnormalised. Wharf's Parse picks out a domain the way docker's
    // splitDockerDomain does (a '.', a ':', "localhost" or upper case in the first component), so
    // "foo/bar" has no domain here and is docker.io's under normalisation.
    // Columns: input, domain, path, tag, digest.
    public static TheoryData<string, string?, string, string?, string?> ValidReferences => new()
    {
        { "test_com", null, "test_com", null, null },
        { "test.com:tag", null, "test.com", "tag", null },
        { "test.com:5000", null, "test.com", "5000", null },
        { "test.com/repo:tag", "test.com", "repo", "tag", null },
        { "test:5000/repo", "test:5000", "repo", null, null },
        { "test:5000/repo:tag", "test:5000", "repo", "tag", null },
        { "test:5000/repo@" + Sha256F, "test:5000", "repo", null, Sha256F },
        { "test:5000/repo:tag@" + Sha256F, "test:5000", "repo", "tag", Sha256F },
        { "lowercase:Uppercase", null, "lowercase", "Uppercase", null },
        { string.Concat(Enumerable.Repeat("a/", 127)) + "a:tag-puts-this-over-max", null, string.Concat(Enumerable.Repeat("a/", 127)) + "a", "tag-puts-this-over-max", null },
        { "sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", null, null },
        { "sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux", "some-long-tag", null },
        { "b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app", "test.example.com", null },
        { "xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", null },
        { "xn--7o8h.com/myimage:xn--7o8h.com@" + Sha512F, "xn--7o8h.com", "myimage", "xn--7o8h.com", Sha512F },
        { "foo_bar.com:8080", null, "foo_bar.com", "8080", null },
        { "foo/foo_bar.com:8080", null, "foo/foo_bar.com", "8080", null },
        { "192.168.1.1", null, "192.168.1.1", null, null },
        { "192.168.1.1:tag", null, "192.168.1.1", "tag", null },
        { "192.168.1.1:5000", null, "192.168.1.1", "5000", null },
        { "192.168.1.1/repo", "192.168.1.1", "repo", null, null },
        { "192.168.1.1:5000/repo", "192.168.1.1:5000", "repo", null, null },
        { "192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050", null },
        { "[2001:db8::1]/repo", "[2001:db8::1]", "repo", null, null },
        { "[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag", null },
        { "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo", null, null },
        { "[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag", null },
        { "[2001:db8::1]:5000/repo@" + Sha256F, "[2001:db8::1]:5000", "repo", null, Sha256F },
        { "[2001:db8::1]:5000/repo:tag@" + Sha256F, "[2001:db8::1]:5000", "repo", "tag", Sha256F },
        { "[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", null, null },
        { "[::1]:5000/repo", "[::1]:5000", "repo", null, null },
        { "[::1]:5000/foo", "[::1]:5000", "foo", null, null },
        { "localhost/foo", "localhost", "foo", null, null },
        { "localhost:5000/foo", "localhost:5000", "foo", null, null },
        { "localhost:5000/foo/bar:v1", "localhost:5000", "foo/bar", "v1", null },
        { "Foo/bar", "Foo", "bar", null, null },
        { "test-com:8080/foo", "test-com:8080", "foo", null, null },
        { "xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo", null, null },
        { "example.com:8000/named", "example.com:8000", "named", null, null },
        { "other.com/named@sha256:1234567890098765432112345667890098765432112345667890098765432112", "other.com", "named", null, "sha256:1234567890098765432112345667890098765432112345667890098765432112" },
        { "test.com:8000/foo:TAG5", "test.com:8000", "foo", "TAG5", null },
    };

    [Theory]
    [MemberData(nameof(ValidReferences))]
    public void TryParse_DockerVector_SplitsDomainPathTagDigest(string input, string? domain, string path, string? tag, string? digest)
    {
        Assert.True(Reference.TryParse(input, out var reference, out var error), error);
        Assert.Equal(domain, reference.Domain);
        Assert.Equal(path, reference.Path);
        Assert.Equal(tag, reference.Tag);
        Assert.Equal(digest, reference.Digest?.ToString());
        Assert.Equal(domain is null ? path : domain + "/" + path, reference.Name);
    }

    [Theory]
    [MemberData(nameof(ValidReferences))]
    public void ToString_ParsedReference_RoundTripsInput(string input, string? domain, string path, string? tag, string? digest)
    {
        _ = (domain, path, tag, digest);
        var reference = Reference.Parse(input);
        Assert.Equal(input, reference.ToString());
        Assert.Equal(reference, Reference.Parse(reference.ToString()));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData(":justtag", "")]
    [InlineData("@" + Sha256F, "")]
    [InlineData("repo@sha256:ffffffffffffffffffffffffffffffffff", "hex digits")]
    [InlineData("validname@invaliddigest:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "not supported")]
    [InlineData("Uppercase:tag", "lowercase")]
    [InlineData("Uppercase", "lowercase")]
    [InlineData("test:5000/Uppercase/lowercase:tag", "lowercase")]
    [InlineData("docker.io/docker/Docker", "lowercase")]
    [InlineData("docker/Docker", "lowercase")]
    [InlineData("aa/asdf$$^/aa", "")]
    [InlineData("[2001:db8::1]", "")]
    [InlineData("[2001:db8::1]:5000", "")]
    [InlineData("[2001:db8::1]:tag", "")]
    [InlineData("[fe80::1%eth0]:5000/repo", "")]
    [InlineData("[fe80::1%@invalidzone]:5000/repo", "")]
    [InlineData("[2001:db8:3:4::192.0.2.33]:5000/debian", "")]
    [InlineData("fc00::1:5000/debian", "")]
    [InlineData("https://github.com/docker/docker", "")]
    [InlineData("-docker", "")]
    [InlineData("-docker/docker", "")]
    [InlineData("-docker.io/docker/docker", "")]
    [InlineData("docker///docker", "")]
    [InlineData("docker.io/docker///docker", "")]
    [InlineData("docker/", "")]
    [InlineData("docker.io/", "empty")]
    [InlineData("foo:", "tag")]
    [InlineData("foo:-bad", "tag")]
    [InlineData("foo@", "")]
    [InlineData("foo bar", "")]
    [InlineData("foo.com:/bar", "")]
    [InlineData("foo.com:abc/bar", "")]
    [InlineData("alpine\n", "")]
    [InlineData("alpine:latest\n", "")]
    [InlineData("localhost:5000\n/foo", "")]
    public void TryParse_InvalidReference_FailsWithReason(string input, string reasonFragment)
    {
        Assert.False(Reference.TryParse(input, out var reference, out var error));
        Assert.Null(reference);
        Assert.Contains(reasonFragment, error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_NameOver255_FailsAsTooLong()
    {
        string input = string.Concat(Enumerable.Repeat("a/", 128)) + "a:tag";
        Assert.False(Reference.TryParse(input, out _, out var error));
        Assert.Contains("255", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_DomainCountsTowardsTheLimit_FailsAsTooLong()
    {
        // 11 + 1 + 244 = 256 characters of name; the tag does not count.
        string input = "example.com/" + new string('a', 244) + ":tag";
        Assert.False(Reference.TryParse(input, out _, out var error));
        Assert.Contains("255", error, StringComparison.Ordinal);
        Assert.True(Reference.TryParse("example.com/" + new string('a', 243) + ":tag", out _, out _));
    }

    [Fact]
    public void TryParse_Tag129Characters_Fails()
    {
        Assert.False(Reference.TryParse("foo:" + new string('a', 129), out _, out _));
        Assert.True(Reference.TryParse("foo:" + new string('a', 128), out _, out _));
    }

    [Fact]
    public void Parse_Invalid_ThrowsFormatException()
    {
        var e = Assert.Throws<FormatException>(() => Reference.Parse("Bad:tag"));
        Assert.Contains("Bad:tag", e.Message, StringComparison.Ordinal);
    }

    // Docker's normalisation (normalize_test.go): input → domain, path.
    public static TheoryData<string, string, string> NormalizedNames => new()
    {
        { "alpine", "docker.io", "library/alpine" },
        { "debian", "docker.io", "library/debian" },
        { "foo", "docker.io", "library/foo" },
        { "localhost", "docker.io", "library/localhost" },
        { "library/ubuntu", "docker.io", "library/ubuntu" },
        { "library/debian", "docker.io", "library/debian" },
        { "fooo/bar", "docker.io", "fooo/bar" },
        { "docker/docker", "docker.io", "docker/docker" },
        { "docker/migrator", "docker.io", "docker/migrator" },
        { "test_com/foo", "docker.io", "test_com/foo" },
        { "other/library", "docker.io", "other/library" },
        { "library/foo/bar", "docker.io", "library/foo/bar" },
        { "store/foo/bar", "docker.io", "store/foo/bar" },
        { "docker.io/foo", "docker.io", "library/foo" },
        { "docker.io/debian", "docker.io", "library/debian" },
        { "docker.io/library/foo", "docker.io", "library/foo" },
        { "docker.io/library/foo/bar", "docker.io", "library/foo/bar" },
        { "docker.io/docker/docker", "docker.io", "docker/docker" },
        { "index.docker.io/fooo/bar", "docker.io", "fooo/bar" },
        { "index.docker.io/debian", "docker.io", "library/debian" },
        { "index.docker.io/library/debian", "docker.io", "library/debian" },
        { "index.docker.io/library/ubuntu-12.04-base", "docker.io", "library/ubuntu-12.04-base" },
        { "127.0.0.1:8000/private/moonbase", "127.0.0.1:8000", "private/moonbase" },
        { "127.0.0.1:8000/privatebase", "127.0.0.1:8000", "privatebase" },
        { "127.0.0.1:5000/library/debian", "127.0.0.1:5000", "library/debian" },
        { "192.168.0.1:8/debian", "192.168.0.1:8", "debian" },
        { "192.168.0.1", "docker.io", "library/192.168.0.1" },
        { "example.com/private/moonbase", "example.com", "private/moonbase" },
        { "example.com/privatebase", "example.com", "privatebase" },
        { "example.com:8000/privatebasee", "example.com:8000", "privatebasee" },
        { "test.com/foo", "test.com", "foo" },
        { "test.com:8080/foo", "test.com:8080", "foo" },
        { "test-com:8080/foo", "test-com:8080", "foo" },
        { "xn--n3h.com/foo", "xn--n3h.com", "foo" },
        { "xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo" },
        { "localhost/foo", "localhost", "foo" },
        { "localhost:5000/foo", "localhost:5000", "foo" },
        { "Foo/bar", "Foo", "bar" },
        { "FOO/bar", "FOO", "bar" },
        { "Docker/docker", "Docker", "docker" },
        { "[::1]:5000/foo", "[::1]:5000", "foo" },
        { "[fc00::1]:5000/docker", "[fc00::1]:5000", "docker" },
        { "[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000", "library/debian" },
        { "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "docker.io", "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev" },
        { "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9", "docker.io", "library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9" },
        { "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", "docker.io", "library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a" },
    };

    [Theory]
    [MemberData(nameof(NormalizedNames))]
    public void ParseNormalized_FamiliarOrFullName_YieldsDockerDomainAndPath(string input, string domain, string path)
    {
        Assert.True(Reference.TryParseNormalized(input, out var reference, out var error), error);
        Assert.Equal(domain, reference.Domain);
        Assert.Equal(path, reference.Path);
        Assert.Equal(domain + "/" + path, reference.ToString());
    }

    [Theory]
    [InlineData("redis:latest", "docker.io/library/redis:latest")]
    [InlineData("docker.io/library/redis:latest", "docker.io/library/redis:latest")]
    [InlineData("redis@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c", "docker.io/library/redis@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c")]
    [InlineData("dmcgowan/myapp:latest", "docker.io/dmcgowan/myapp:latest")]
    [InlineData("dmcgowan/myapp@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c", "docker.io/dmcgowan/myapp@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c")]
    [InlineData("busybox:latest@" + BusyboxDigest, "docker.io/library/busybox:latest@" + BusyboxDigest)]
    [InlineData("192.168.0.1:80", "docker.io/library/192.168.0.1:80")]
    [InlineData("localhost:5000", "docker.io/library/localhost:5000")]
    [InlineData("localhost:5000/foo:v2", "localhost:5000/foo:v2")]
    [InlineData("[::1]:5000/foo:v2@" + Sha256F, "[::1]:5000/foo:v2@" + Sha256F)]
    public void ParseNormalized_WithTagOrDigest_KeepsThemInFullString(string input, string expected)
    {
        var reference = Reference.ParseNormalized(input);
        Assert.Equal(expected, reference.ToString());
        Assert.Equal(reference, Reference.ParseNormalized(reference.ToString()));
    }

    [Fact]
    public void ParseNormalized_TagAndDigest_KeepsBoth()
    {
        var reference = Reference.ParseNormalized("busybox:latest@" + BusyboxDigest);
        Assert.Equal("latest", reference.Tag);
        Assert.Equal(Digest.Parse(BusyboxDigest), reference.Digest);
    }

    [Theory]
    [InlineData("https://github.com/docker/docker")]
    [InlineData("docker/Docker")]
    [InlineData("-docker")]
    [InlineData("-foo")]
    [InlineData("-docker/docker")]
    [InlineData("-docker.io/docker/docker")]
    [InlineData("docker///docker")]
    [InlineData("docker.io/docker/Docker")]
    [InlineData("docker.io/docker///docker")]
    [InlineData("[fc00::1]")]
    [InlineData("[fc00::1]:5000")]
    [InlineData("fc00::1:5000/debian")]
    [InlineData("[fe80::1%eth0]:5000/debian")]
    [InlineData("[2001:db8:3:4::192.0.2.33]:5000/debian")]
    [InlineData("docker-/docker")]
    [InlineData("-docker-/docker")]
    [InlineData("____/____")]
    [InlineData("_docker/_docker")]
    [InlineData("dock..er/docker")]
    [InlineData("dock_.er/docker")]
    [InlineData("dock-.er/docker")]
    [InlineData("docker/")]
    [InlineData("Uppercase")]
    [InlineData("this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker")]
    public void TryParseNormalized_InvalidName_Fails(string input)
    {
        Assert.False(Reference.TryParseNormalized(input, out var reference, out var error));
        Assert.Null(reference);
        Assert.NotNull(error);
    }

    [Fact]
    public void TryParseNormalized_64HexIdentifier_FailsAsAmbiguousWithImageId()
    {
        // Docker refuses a bare 64-hex name: it would be read as an image ID.
        Assert.False(Reference.TryParseNormalized("1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", out _, out var error));
        Assert.Contains("64", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParseNormalized_NameOver255AfterDockerHubPrefix_Fails()
    {
        // 250 characters alone fit, but docker.io/library/ makes the name 268 characters.
        string familiar = new string('a', 250);
        Assert.True(Reference.TryParse(familiar, out _, out _));
        Assert.False(Reference.TryParseNormalized(familiar, out _, out var error));
        Assert.Contains("255", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalize_RegistryDomain_Unchanged()
    {
        var reference = Reference.Parse("registry.example:5000/team/app:1.0");
        Assert.Equal(reference, reference.Normalize());
    }

    [Fact]
    public void Normalize_AlreadyNormalized_IsIdempotent()
    {
        var once = Reference.ParseNormalized("alpine:3.20");
        Assert.Equal(once, once.Normalize());
    }

    [Theory]
    [InlineData("example.com", true)]
    [InlineData("example:5000", true)]
    [InlineData("localhost", true)]
    [InlineData("Foo", true)]
    [InlineData("[::1]:5000", true)]
    [InlineData("library", false)]
    [InlineData("test_com", false)]
    [InlineData("localhostx", false)]
    public void LooksLikeDomain_Component_FollowsDockerSplit(string component, bool expected)
    {
        Assert.Equal(expected, Reference.LooksLikeDomain(component));
    }

    [Fact]
    public void Constructor_Parts_ToStringJoinsThem()
    {
        var reference = new Reference("localhost:5000", "team/app", "v1", Digest.Parse(Sha256F));
        Assert.Equal("localhost:5000/team/app:v1@" + Sha256F, reference.ToString());
        Assert.Equal("team/app", new Reference(null, "team/app", null, null).ToString());
    }
}
