using System.Security.Cryptography;
using System.Text;

namespace Wharf.Oci.Tests;

public class DigestTests
{
    // sha256 and sha512 of the empty string.
    private const string EmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private const string EmptySha512 = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

    // sha256 of "hello world".
    private const string HelloWorldSha256 = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";

    [Fact]
    public void TryParse_ValidSha256_ReturnsAlgorithmAndEncoded()
    {
        Assert.True(Digest.TryParse("sha256:" + EmptySha256, out var digest, out var error));
        Assert.Null(error);
        Assert.Equal("sha256", digest.Algorithm);
        Assert.Equal(EmptySha256, digest.Encoded);
        Assert.False(digest.IsDefault);
        Assert.Equal("sha256:" + EmptySha256, digest.ToString());
    }

    [Fact]
    public void TryParse_ValidSha512_ReturnsAlgorithmAndEncoded()
    {
        Assert.True(Digest.TryParse("sha512:" + EmptySha512, out var digest, out _));
        Assert.Equal(Digest.Sha512, digest.Algorithm);
        Assert.Equal(EmptySha512, digest.Encoded);
    }

    [Theory]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85")] // 63 digits
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555")] // 65 digits
    [InlineData("sha256:abcdef0123456789")]
    [InlineData("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")] // a sha256 length under sha512
    public void TryParse_WrongLength_FailsWithLengthReason(string value)
    {
        Assert.False(Digest.TryParse(value, out var digest, out var error));
        Assert.True(digest.IsDefault);
        Assert.Contains("hex digits", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_UpperCaseHex_Fails()
    {
        Assert.False(Digest.TryParse("sha256:" + EmptySha256.ToUpperInvariant(), out _, out var error));
        Assert.Contains("lower-case", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sha384:" + EmptySha256)]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("sha256+b64:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564")] // grammatical, not verifiable here
    [InlineData("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8")]
    public void TryParse_UnknownAlgorithm_FailsAsUnsupported(string value)
    {
        Assert.False(Digest.TryParse(value, out _, out var error));
        Assert.Contains("not supported", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("SHA256:" + EmptySha256)]
    [InlineData("Sha256:" + EmptySha256)]
    [InlineData("sha256-:" + EmptySha256)]
    [InlineData("-sha256:" + EmptySha256)]
    [InlineData("sha__256:" + EmptySha256)]
    [InlineData("sha 256:" + EmptySha256)]
    public void TryParse_MalformedAlgorithm_FailsAsMalformed(string value)
    {
        Assert.False(Digest.TryParse(value, out _, out var error));
        Assert.Contains("malformed", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void TryParse_Empty_Fails(string? value)
    {
        Assert.False(Digest.TryParse(value, out _, out var error));
        Assert.Equal("digest is empty", error);
    }

    [Theory]
    [InlineData(EmptySha256)]
    [InlineData("sha256")]
    [InlineData("sha256:")]
    [InlineData(":" + EmptySha256)]
    public void TryParse_MissingColonOrPart_FailsAsNotAlgorithmHex(string value)
    {
        Assert.False(Digest.TryParse(value, out _, out var error));
        Assert.Contains("algorithm:hex", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sha256:" + EmptySha256 + "\n")]
    [InlineData("sha256: " + EmptySha256)]
    [InlineData("sha256:" + EmptySha256 + ":00")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/")]
    public void TryParse_InvalidEncodedCharacter_Fails(string value)
    {
        Assert.False(Digest.TryParse(value, out _, out var error));
        Assert.Contains("invalid character", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_HexWithNonHexLetter_Fails()
    {
        // 'g' is in the encoded grammar but not hex.
        Assert.False(Digest.TryParse("sha256:g" + EmptySha256[1..], out _, out var error));
        Assert.Contains("hex digits", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Invalid_ThrowsFormatExceptionWithReason()
    {
        var e = Assert.Throws<FormatException>(() => Digest.Parse("sha256:abc"));
        Assert.Contains("64 lower-case hex digits", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_VeryLongInput_TruncatesItInTheError()
    {
        string value = "sha256:" + new string('z', 5000) + "!";
        var e = Assert.Throws<FormatException>(() => Digest.Parse(value));
        Assert.True(e.Message.Length < 300, e.Message);
    }

    [Fact]
    public void Equality_SameText_Equal()
    {
        Assert.Equal(Digest.Parse("sha256:" + EmptySha256), Digest.Parse("sha256:" + EmptySha256));
        Assert.NotEqual(Digest.Parse("sha256:" + EmptySha256), Digest.Parse("sha256:" + HelloWorldSha256));
    }

    [Fact]
    public void Compute_Bytes_IsSha256OfContent()
    {
        Assert.Equal("sha256:" + HelloWorldSha256, Digest.Compute("hello world"u8).ToString());
        Assert.Equal("sha256:" + EmptySha256, Digest.Compute(ReadOnlySpan<byte>.Empty).ToString());
    }

    [Fact]
    public void Compute_Stream_EqualsComputeOfBytes()
    {
        byte[] content = RandomNumberGenerator.GetBytes(200_000);
        using var stream = new MemoryStream(content);
        Assert.Equal(Digest.Compute(content), Digest.Compute(stream));
    }

    [Fact]
    public async Task ComputeAsync_Stream_EqualsComputeOfBytes()
    {
        byte[] content = RandomNumberGenerator.GetBytes(200_000);
        using var stream = new MemoryStream(content);
        Assert.Equal(Digest.Compute(content), await Digest.ComputeAsync(stream));
    }

    [Fact]
    public void Compute_Result_RoundTripsThroughParse()
    {
        var computed = Digest.Compute("round trip"u8);
        Assert.Equal(computed, Digest.Parse(computed.ToString()));
    }

    [Fact]
    public void Matches_SameContent_True()
    {
        Assert.True(Digest.Parse("sha256:" + HelloWorldSha256).Matches("hello world"u8));
    }

    [Fact]
    public void Matches_DifferentContent_False()
    {
        Assert.False(Digest.Parse("sha256:" + HelloWorldSha256).Matches("hello world\n"u8));
    }

    [Fact]
    public void Matches_Sha512Digest_UsesSha512()
    {
        byte[] content = Encoding.UTF8.GetBytes("layer bytes");
        var digest = Digest.Parse("sha512:" + Convert.ToHexStringLower(SHA512.HashData(content)));
        Assert.True(digest.Matches(content));
        Assert.False(digest.Matches("other bytes"u8));
    }

    [Fact]
    public void FromHasher_Sha256Incremental_EqualsCompute()
    {
        using var hasher = Digest.CreateHasher(Digest.Sha256);
        hasher.AppendData("hello "u8);
        hasher.AppendData("world"u8);
        var digest = Digest.FromHasher(Digest.Sha256, hasher);
        Assert.Equal("sha256:" + HelloWorldSha256, digest.ToString());
    }

    [Fact]
    public void FromHasher_Sha512_IsParseable()
    {
        using var hasher = Digest.CreateHasher(Digest.Sha512);
        var digest = Digest.FromHasher(Digest.Sha512, hasher);
        Assert.Equal("sha512:" + EmptySha512, digest.ToString());
        Assert.Equal(digest, Digest.Parse(digest.ToString()));
    }

    [Fact]
    public void FromHasher_ResetsHasher_SecondUseStartsFresh()
    {
        using var hasher = Digest.CreateHasher(Digest.Sha256);
        hasher.AppendData("junk"u8);
        _ = Digest.FromHasher(Digest.Sha256, hasher);
        Assert.Equal("sha256:" + EmptySha256, Digest.FromHasher(Digest.Sha256, hasher).ToString());
    }

    [Fact]
    public void FromHasher_AlgorithmOfOtherHasher_Throws()
    {
        // A sha512 hash labelled sha256 would be a digest nobody can verify.
        using var hasher = Digest.CreateHasher(Digest.Sha512);
        Assert.ThrowsAny<ArgumentException>(() => Digest.FromHasher(Digest.Sha256, hasher));
    }

    [Fact]
    public void CreateHasher_UnsupportedAlgorithm_Throws()
    {
        Assert.Throws<NotSupportedException>(() => Digest.CreateHasher("md5"));
    }
}
