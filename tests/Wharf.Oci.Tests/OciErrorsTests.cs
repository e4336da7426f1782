using System.Net;

namespace Wharf.Oci.Tests;

public class OciErrorsTests
{
    [Fact]
    public void Info_EveryCode_HasAnEntryNamedForIt()
    {
        foreach (var code in Enum.GetValues<OciErrorCode>())
        {
            var info = code.Info();
            Assert.Equal(code, info.Code);
            Assert.False(string.IsNullOrWhiteSpace(info.Value));
            Assert.False(string.IsNullOrWhiteSpace(info.Message));
        }

        Assert.Equal(Enum.GetValues<OciErrorCode>().Length, OciErrors.All.Count);
    }

    // Distribution spec, "Error Codes": code → HTTP status of the endpoints that return it.
    [Theory]
    [InlineData(OciErrorCode.BlobUnknown, "BLOB_UNKNOWN", 404)]
    [InlineData(OciErrorCode.BlobUploadInvalid, "BLOB_UPLOAD_INVALID", 400)]
    [InlineData(OciErrorCode.BlobUploadUnknown, "BLOB_UPLOAD_UNKNOWN", 404)]
    [InlineData(OciErrorCode.DigestInvalid, "DIGEST_INVALID", 400)]
    [InlineData(OciErrorCode.ManifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN", 404)]
    [InlineData(OciErrorCode.ManifestInvalid, "MANIFEST_INVALID", 400)]
    [InlineData(OciErrorCode.ManifestUnknown, "MANIFEST_UNKNOWN", 404)]
    [InlineData(OciErrorCode.NameInvalid, "NAME_INVALID", 400)]
    [InlineData(OciErrorCode.NameUnknown, "NAME_UNKNOWN", 404)]
    [InlineData(OciErrorCode.SizeInvalid, "SIZE_INVALID", 400)]
    [InlineData(OciErrorCode.Unauthorized, "UNAUTHORIZED", 401)]
    [InlineData(OciErrorCode.Denied, "DENIED", 403)]
    [InlineData(OciErrorCode.Unsupported, "UNSUPPORTED", 405)]
    [InlineData(OciErrorCode.TooManyRequests, "TOOMANYREQUESTS", 429)]
    // Docker registry API additions.
    [InlineData(OciErrorCode.TagInvalid, "TAG_INVALID", 400)]
    [InlineData(OciErrorCode.ManifestUnverified, "MANIFEST_UNVERIFIED", 400)]
    [InlineData(OciErrorCode.PaginationNumberInvalid, "PAGINATION_NUMBER_INVALID", 400)]
    [InlineData(OciErrorCode.RangeInvalid, "RANGE_INVALID", 416)]
    [InlineData(OciErrorCode.Unavailable, "UNAVAILABLE", 503)]
    [InlineData(OciErrorCode.Unknown, "UNKNOWN", 500)]
    public void Info_SpecCode_HasSpecValueAndStatus(OciErrorCode code, string value, int status)
    {
        var info = code.Info();
        Assert.Equal(value, info.Value);
        Assert.Equal((HttpStatusCode)status, info.Status);
    }

    [Fact]
    public void All_Values_AreUnique()
    {
        var values = OciErrors.All.Select(e => e.Value).ToList();
        Assert.Equal(values.Count, values.Distinct(StringComparer.Ordinal).Count());
        var codes = OciErrors.All.Select(e => e.Code).ToList();
        Assert.Equal(codes.Count, codes.Distinct().Count());
    }

    [Fact]
    public void All_Values_AreUpperSnakeCase()
    {
        foreach (var info in OciErrors.All)
        {
            Assert.Matches("^[A-Z]+(_[A-Z]+)*$", info.Value);
        }
    }

    [Fact]
    public void TryFromValue_KnownValue_ReturnsItsInfo()
    {
        foreach (var info in OciErrors.All)
        {
            Assert.True(OciErrors.TryFromValue(info.Value, out var found));
            Assert.Same(info, found);
        }
    }

    [Theory]
    [InlineData("NOT_A_CODE")]
    [InlineData("blob_unknown")]
    [InlineData("")]
    public void TryFromValue_UnknownValue_ReturnsFalse(string value)
    {
        Assert.False(OciErrors.TryFromValue(value, out var info));
        Assert.Null(info);
    }

    [Fact]
    public void OciException_WithDetail_KeepsCodeAndDetail()
    {
        var e = new OciException(OciErrorCode.DigestInvalid, "digest mismatch");
        Assert.Equal(OciErrorCode.DigestInvalid, e.Code);
        Assert.Equal("digest mismatch", e.Detail);
        Assert.Equal("digest mismatch", e.Message);
        Assert.Null(e.StatusOverride);
        Assert.Empty(e.Headers);
    }

    [Fact]
    public void OciException_WithoutDetail_UsesTableMessage()
    {
        var e = new OciException(OciErrorCode.BlobUnknown);
        Assert.Null(e.Detail);
        Assert.Equal("blob unknown to registry", e.Message);
    }

    [Fact]
    public void OciException_Parameterless_IsUnknown()
    {
        Assert.Equal(OciErrorCode.Unknown, new OciException().Code);
        Assert.Equal(OciErrorCode.Unknown, new OciException("boom").Code);
        var inner = new InvalidOperationException("inner");
        var e = new OciException("outer", inner);
        Assert.Equal(OciErrorCode.Unknown, e.Code);
        Assert.Same(inner, e.InnerException);
    }

    [Fact]
    public void OciException_Headers_AreCaseInsensitive()
    {
        var e = new OciException(OciErrorCode.RangeInvalid) { StatusOverride = 416 };
        e.Headers["Range"] = "0-99";
        Assert.Equal("0-99", e.Headers["range"]);
        Assert.Equal(416, e.StatusOverride);
    }
}
