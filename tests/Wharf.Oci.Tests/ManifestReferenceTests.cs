namespace Wharf.Oci.Tests;

public class ManifestReferenceTests
{
    private static readonly string Sha = "sha256:" + new string('e', 64);

    [Fact]
    public void TryParse_Digest_IsDigest()
    {
        Assert.True(ManifestReference.TryParse(Sha, out var reference, out _));
        Assert.True(reference.IsDigest);
        Assert.Equal(Digest.Parse(Sha), reference.Digest);
        Assert.Equal(Sha, reference.ToString());
        Assert.Throws<InvalidOperationException>(() => reference.Tag);
    }

    [Fact]
    public void TryParse_Tag_IsTag()
    {
        Assert.True(ManifestReference.TryParse("v1.2_rc-3", out var reference, out _));
        Assert.False(reference.IsDigest);
        Assert.Equal("v1.2_rc-3", reference.Tag.Value);
        Assert.Equal("v1.2_rc-3", reference.ToString());
        Assert.Throws<InvalidOperationException>(() => reference.Digest);
    }

    [Theory]
    [InlineData("sha256:abc", "sha256 digest must be 64 lower-case hex digits")]
    [InlineData("latest:x", "digest algorithm \"latest\"")]
    [InlineData("-bad", "tag \"-bad\" must match")]
    [InlineData("", "tag \"\" must match")]
    public void TryParse_Malformed_FailsWithReason(string text, string reason)
    {
        Assert.False(ManifestReference.TryParse(text, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void IsDigestShaped_ColonDecides()
    {
        Assert.True(ManifestReference.IsDigestShaped("anything:x"));
        Assert.False(ManifestReference.IsDigestShaped("latest"));
    }
}
