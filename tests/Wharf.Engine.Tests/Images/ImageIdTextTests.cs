using Wharf.Engine.Images;

namespace Wharf.Engine.Tests.Images;

public sealed class ImageIdTextTests
{
    [Theory]
    [InlineData("sha256:abc123", "abc123")]
    [InlineData("abc123", "abc123")]
    [InlineData("sha512:abc", "sha512:abc")]
    [InlineData("sha256:", "")]
    public void WithoutSha256Prefix_StripsOnlyTheSha256Label(string text, string expected) =>
        Assert.Equal(expected, ImageNames.WithoutSha256Prefix(text));
}
