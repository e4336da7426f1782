using Wharf.Oci;

namespace Wharf.Registry.Api;

public enum RouteKind
{
    Base,
    Catalog,
    Manifest,
    Blob,
    UploadStart,
    Upload,
    TagList,
    Referrers,
}

/// <summary>
/// A parsed /v2 path. Repository names contain slashes, so the path is read from its end:
/// <code>
/// /v2/                                  Base
/// /v2/_catalog                          Catalog
/// /v2/&lt;name&gt;/manifests/&lt;reference&gt;    Manifest   (reference = tag or digest)
/// /v2/&lt;name&gt;/blobs/&lt;digest&gt;            Blob
/// /v2/&lt;name&gt;/blobs/uploads/            UploadStart
/// /v2/&lt;name&gt;/blobs/uploads/&lt;id&gt;        Upload
/// /v2/&lt;name&gt;/tags/list                 TagList
/// /v2/&lt;name&gt;/referrers/&lt;digest&gt;        Referrers
/// </code>
/// </summary>
public sealed record RegistryRoute(RouteKind Kind, RepositoryName Repository = default, string? Reference = null)
{
    /// <summary>Parses the part after <c>/v2/</c>. Returns null for a path that is no endpoint; throws NAME_INVALID for a bad name.</summary>
    public static RegistryRoute? Parse(string path)
    {
        if (path.Length == 0)
        {
            return new RegistryRoute(RouteKind.Base);
        }

        if (path is "_catalog")
        {
            return new RegistryRoute(RouteKind.Catalog);
        }

        string[] parts = path.Split('/');
        int n = parts.Length;
        if (n >= 3 && parts[n - 2] == "tags" && parts[n - 1] == "list")
        {
            return new RegistryRoute(RouteKind.TagList, Name(parts, n - 2));
        }

        if (n >= 3 && parts[n - 2] == "blobs" && parts[n - 1] == "uploads")
        {
            return new RegistryRoute(RouteKind.UploadStart, Name(parts, n - 2));
        }

        // "uploads/" with the trailing slash splits into a final empty part.
        if (n >= 4 && parts[n - 3] == "blobs" && parts[n - 2] == "uploads")
        {
            return parts[n - 1].Length == 0
                ? new RegistryRoute(RouteKind.UploadStart, Name(parts, n - 3))
                : new RegistryRoute(RouteKind.Upload, Name(parts, n - 3), parts[n - 1]);
        }

        if (n >= 3 && parts[n - 1].Length > 0)
        {
            RouteKind? kind = parts[n - 2] switch
            {
                "manifests" => RouteKind.Manifest,
                "blobs" => RouteKind.Blob,
                "referrers" => RouteKind.Referrers,
                _ => null,
            };
            if (kind is { } k)
            {
                return new RegistryRoute(k, Name(parts, n - 2), parts[n - 1]);
            }
        }

        return null;
    }

    private static RepositoryName Name(string[] parts, int count)
    {
        string name = string.Join('/', parts, 0, count);
        if (!RepositoryName.TryParse(name, out var repo, out var error))
        {
            throw new OciException(OciErrorCode.NameInvalid, error);
        }

        return repo;
    }
}
