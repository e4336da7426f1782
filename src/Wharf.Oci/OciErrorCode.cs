using System.Net;

namespace Wharf.Oci;

/// <summary>
/// The error codes of the OCI distribution spec ("Error Codes") plus the few that the Docker
/// registry API adds and clients know. Each carries its HTTP status and default message in
/// <see cref="OciErrors"/>; the one table is the only place a status is chosen.
/// </summary>
public enum OciErrorCode
{
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    // Docker registry API additions.
    TagInvalid,
    ManifestUnverified,
    PaginationNumberInvalid,
    RangeInvalid,
    Unavailable,
    Unknown,
}

public sealed record OciErrorInfo(OciErrorCode Code, string Value, HttpStatusCode Status, string Message);

public static class OciErrors
{
    private static readonly Dictionary<OciErrorCode, OciErrorInfo> Table = new OciErrorInfo[]
    {
        new(OciErrorCode.BlobUnknown, "BLOB_UNKNOWN", HttpStatusCode.NotFound, "blob unknown to registry"),
        new(OciErrorCode.BlobUploadInvalid, "BLOB_UPLOAD_INVALID", HttpStatusCode.BadRequest, "blob upload invalid"),
        new(OciErrorCode.BlobUploadUnknown, "BLOB_UPLOAD_UNKNOWN", HttpStatusCode.NotFound, "blob upload unknown to registry"),
        new(OciErrorCode.DigestInvalid, "DIGEST_INVALID", HttpStatusCode.BadRequest, "provided digest did not match uploaded content"),
        new(OciErrorCode.ManifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN", HttpStatusCode.NotFound, "manifest references a manifest or blob unknown to registry"),
        new(OciErrorCode.ManifestInvalid, "MANIFEST_INVALID", HttpStatusCode.BadRequest, "manifest invalid"),
        new(OciErrorCode.ManifestUnknown, "MANIFEST_UNKNOWN", HttpStatusCode.NotFound, "manifest unknown to registry"),
        new(OciErrorCode.NameInvalid, "NAME_INVALID", HttpStatusCode.BadRequest, "invalid repository name"),
        new(OciErrorCode.NameUnknown, "NAME_UNKNOWN", HttpStatusCode.NotFound, "repository name not known to registry"),
        new(OciErrorCode.SizeInvalid, "SIZE_INVALID", HttpStatusCode.BadRequest, "provided length did not match content length"),
        new(OciErrorCode.Unauthorized, "UNAUTHORIZED", HttpStatusCode.Unauthorized, "authentication required"),
        new(OciErrorCode.Denied, "DENIED", HttpStatusCode.Forbidden, "requested access to the resource is denied"),
        new(OciErrorCode.Unsupported, "UNSUPPORTED", HttpStatusCode.MethodNotAllowed, "the operation is unsupported"),
        new(OciErrorCode.TooManyRequests, "TOOMANYREQUESTS", HttpStatusCode.TooManyRequests, "too many requests"),
        new(OciErrorCode.TagInvalid, "TAG_INVALID", HttpStatusCode.BadRequest, "manifest tag did not match URI"),
        new(OciErrorCode.ManifestUnverified, "MANIFEST_UNVERIFIED", HttpStatusCode.BadRequest, "manifest failed signature verification"),
        new(OciErrorCode.PaginationNumberInvalid, "PAGINATION_NUMBER_INVALID", HttpStatusCode.BadRequest, "invalid number of results requested"),
        new(OciErrorCode.RangeInvalid, "RANGE_INVALID", HttpStatusCode.RequestedRangeNotSatisfiable, "invalid content range"),
        new(OciErrorCode.Unavailable, "UNAVAILABLE", HttpStatusCode.ServiceUnavailable, "service unavailable"),
        new(OciErrorCode.Unknown, "UNKNOWN", HttpStatusCode.InternalServerError, "unknown error"),
    }.ToDictionary(e => e.Code);

    private static readonly Dictionary<string, OciErrorInfo> ByValue = Table.Values.ToDictionary(e => e.Value, StringComparer.Ordinal);

    public static IReadOnlyCollection<OciErrorInfo> All => Table.Values;

    public static OciErrorInfo Info(this OciErrorCode code) => Table[code];

    public static bool TryFromValue(string value, out OciErrorInfo? info) => ByValue.TryGetValue(value, out info);
}

/// <summary>Thrown anywhere below the endpoints; one handler turns it into the spec's JSON body.</summary>
public sealed class OciException : Exception
{
    public OciException(OciErrorCode code, string? detail = null)
        : base(detail ?? code.Info().Message)
    {
        Code = code;
        Detail = detail;
    }

    public OciException()
        : this(OciErrorCode.Unknown)
    {
    }

    public OciException(string message)
        : this(OciErrorCode.Unknown, message)
    {
    }

    public OciException(string message, Exception innerException)
        : base(message, innerException)
    {
        Code = OciErrorCode.Unknown;
        Detail = message;
    }

    public OciErrorCode Code { get; }

    /// <summary>A status other than the table's, where the spec asks for one (413 for an oversized manifest).</summary>
    public int? StatusOverride { get; init; }

    public string? Detail { get; }

    /// <summary>Extra response headers (for example <c>Range</c> with a 416).</summary>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
}
