namespace Wharf.Oci.Tests;

public class NamesTests
{
    // Distribution spec, "Pulling manifests": <name> is
    // [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
    [Theory]
    [InlineData("a")]
    [InlineData("alpine")]
    [InlineData("library/alpine")]
    [InlineData("team/project/image")]
    [InlineData("a/b/c/d/e/f")]
    [InlineData("0")]
    [InlineData("123/456")]
    [InlineData("my.app")]
    [InlineData("my_app")]
    [InlineData("my__app")]
    [InlineData("my-app")]
    [InlineData("my---app")]
    [InlineData("a.b_c__d-e--f")]
    [InlineData("docker-rules/docker")]
    [InlineData("docker---rules/docker")]
    [InlineData("dock__er/docker")]
    [InlineData("d/docker")]
    [InlineData("jess/t")]
    [InlineData("ubuntu-12.04-base")]
    public void TryParse_ValidName_Succeeds(string value)
    {
        Assert.True(RepositoryName.TryParse(value, out var name, out var error), error);
        Assert.Equal(value, name.Value);
        Assert.Equal(value, name.ToString());
    }

    [Theory]
    [InlineData("Alpine")]
    [InlineData("library/Alpine")]
    [InlineData("docker/Docker")]
    [InlineData("-docker")]
    [InlineData("docker-")]
    [InlineData("-docker/docker")]
    [InlineData("docker-/docker")]
    [InlineData("_docker/_docker")]
    [InlineData("____/____")]
    [InlineData(".app")]
    [InlineData("app.")]
    [InlineData("dock..er/docker")]
    [InlineData("dock_.er/docker")]
    [InlineData("dock-.er/docker")]
    [InlineData("dock___er")] // three underscores: neither '_' nor '__'
    [InlineData("docker/")]
    [InlineData("/docker")]
    [InlineData("docker//docker")]
    [InlineData("docker///docker")]
    [InlineData("docker.io:5000/foo")]
    [InlineData("foo:latest")]
    [InlineData("foo@sha256")]
    [InlineData("foo bar")]
    [InlineData("föö")]
    [InlineData("alpine\n")]
    [InlineData("library/alpine\n")]
    [InlineData("\nalpine")]
    public void TryParse_InvalidName_Fails(string value)
    {
        Assert.False(RepositoryName.TryParse(value, out var name, out var error));
        Assert.NotNull(error);
        Assert.Null(name.Value);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void TryParse_Empty_FailsAsEmpty(string? value)
    {
        Assert.False(RepositoryName.TryParse(value, out _, out var error));
        Assert.Equal("repository name is empty", error);
    }

    [Fact]
    public void TryParse_Exactly255Characters_Succeeds()
    {
        string value = new string('a', 127) + "/" + new string('b', 127);
        Assert.Equal(255, value.Length);
        Assert.True(RepositoryName.TryParse(value, out _, out var error), error);
    }

    [Fact]
    public void TryParse_256Characters_FailsAsTooLong()
    {
        string value = new string('a', 128) + "/" + new string('b', 127);
        Assert.Equal(256, value.Length);
        Assert.False(RepositoryName.TryParse(value, out _, out var error));
        Assert.Contains("255", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Invalid_ThrowsFormatException()
    {
        var e = Assert.Throws<FormatException>(() => RepositoryName.Parse("Bad/Name"));
        Assert.Contains("Bad/Name", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("alpine", "alpine")]
    [InlineData("library/alpine", "library")]
    [InlineData("team/sub/image", "team")]
    [InlineData("my.project/app", "my.project")]
    public void Project_Name_IsFirstPathComponent(string value, string project)
    {
        Assert.Equal(project, RepositoryName.Parse(value).Project);
    }

    [Fact]
    public void Equality_SameValue_Equal()
    {
        Assert.Equal(RepositoryName.Parse("library/alpine"), RepositoryName.Parse("library/alpine"));
        Assert.NotEqual(RepositoryName.Parse("library/alpine"), RepositoryName.Parse("library/debian"));
    }

    // Distribution spec: <reference> as a tag is [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
    [Theory]
    [InlineData("latest")]
    [InlineData("v1.2.3")]
    [InlineData("1.0")]
    [InlineData("_private")]
    [InlineData("Upper_Case-Tag.1")]
    [InlineData("a")]
    [InlineData("0")]
    [InlineData("sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")] // referrers tag schema
    [InlineData("a..b--c__d")]
    public void TryParse_ValidTag_Succeeds(string value)
    {
        Assert.True(Tag.IsValid(value));
        Assert.True(Tag.TryParse(value, out var tag));
        Assert.Equal(value, tag.Value);
        Assert.Equal(value, tag.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(".hidden")]
    [InlineData("-dash")]
    [InlineData("has space")]
    [InlineData("has/slash")]
    [InlineData("has:colon")]
    [InlineData("has@at")]
    [InlineData("plus+sign")]
    [InlineData("ümlaut")]
    [InlineData("latest\n")]
    [InlineData("\nlatest")]
    public void TryParse_InvalidTag_Fails(string? value)
    {
        Assert.False(Tag.IsValid(value));
        Assert.False(Tag.TryParse(value, out var tag));
        Assert.Null(tag.Value);
    }

    [Fact]
    public void TryParse_Tag128Characters_Succeeds()
    {
        Assert.True(Tag.IsValid("v" + new string('x', 127)));
    }

    [Fact]
    public void TryParse_Tag129Characters_Fails()
    {
        Assert.False(Tag.IsValid("v" + new string('x', 128)));
    }

    [Fact]
    public void Parse_InvalidTag_ThrowsFormatException()
    {
        var e = Assert.Throws<FormatException>(() => Tag.Parse("-bad"));
        Assert.Contains("-bad", e.Message, StringComparison.Ordinal);
    }
}
