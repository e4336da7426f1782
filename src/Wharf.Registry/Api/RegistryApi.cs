using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Wharf.Oci;
using Wharf.Registry.Auth;
using Wharf.Registry.Gc;
using Wharf.Registry.Metadata;
using Wharf.Registry.Quotas;
using Wharf.Registry.Metrics;
using Wharf.Registry.Storage;

namespace Wharf.Registry.Api;

/// <summary>
/// The distribution API (OCI distribution spec v1.1, "API"): one dispatcher parses the path,
/// asks the authorizer for the access the route needs, then runs the handler. Handlers throw
/// <see cref="OciException"/>; the dispatcher writes it.
/// </summary>
public sealed partial class RegistryApi
{
    public const string ApiVersionHeader = "Docker-Distribution-API-Version";
    public const string ContentDigestHeader = "Docker-Content-Digest";
    public const string UploadUuidHeader = "Docker-Upload-UUID";

    private readonly IMetadataStore _metadata;
    private readonly IBlobStore _blobs;
    private readonly IRegistryAuthorizer _authorizer;
    private readonly IProjectQuotas _quotas;
    private readonly RegistryOptions _options;
    private readonly ManifestCache _cache;
    private readonly ILogger<RegistryApi> _logger;
    private readonly TimeProvider _time;
    private readonly BlobLocks _blobLocks;
    private readonly UploadSessions _uploads;
    private readonly IRegistryEvents _events;
    private readonly Proxy.ProxyCache? _proxy;
    private readonly RegistryMetrics _metrics;

    public RegistryApi(
        IMetadataStore metadata, IBlobStore blobs, IRegistryAuthorizer authorizer, IProjectQuotas quotas,
        RegistryOptions options, ManifestCache cache, BlobLocks blobLocks, UploadSessions uploads, ILogger<RegistryApi> logger, TimeProvider time,
        IRegistryEvents? events = null, Proxy.ProxyCache? proxy = null, RegistryMetrics? metrics = null)
    {
        _uploads = uploads;
        _proxy = proxy;
        _metrics = metrics ?? new RegistryMetrics();
        _events = events ?? new NoRegistryEvents();
        _metadata = metadata;
        _blobs = blobs;
        _authorizer = authorizer;
        _quotas = quotas;
        _options = options;
        _cache = cache;
        _logger = logger;
        _time = time;
        _blobLocks = blobLocks;
    }

    public async Task HandleAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.Headers[ApiVersionHeader] = "registry/2.0";
        var ct = context.RequestAborted;
        RegistryRoute? route = null;
        bool uploading = false;
        try
        {
            string path = context.Request.Path.Value ?? string.Empty;
            path = path.Length <= 4 ? string.Empty : path[4..]; // strip "/v2/"
            route = RegistryRoute.Parse(path);
            if (route is null)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            HttpMetrics.SetRoute(context, RouteTemplate(route.Kind));

            string method = context.Request.Method;
            var (access, handler) = Select(route, method);
            if (handler is null)
            {
                throw new OciException(OciErrorCode.Unsupported, $"{method} is not supported on this endpoint");
            }

            var auth = await _authorizer.AuthorizeAsync(context, access, ct).ConfigureAwait(false);
            switch (auth.Kind)
            {
                case AuthorizationKind.Allowed:
                    break;
                case AuthorizationKind.Challenge:
                    WriteChallenge(context, route, access, null);
                    throw new OciException(OciErrorCode.Unauthorized, auth.Detail);
                case AuthorizationKind.HiddenAsUnknown:
                    // A private repository and a missing one get the same 401 insufficient_scope, as
                    // distribution and Harbor answer: the client learns that a login (or a wider one)
                    // may help, and nobody learns whether the repository exists.
                    WriteChallenge(context, route, access, TokenRegistryAuthorizer.InsufficientScope);
                    throw new OciException(OciErrorCode.Unauthorized, auth.Detail);
                default:
                    throw new OciException(OciErrorCode.Denied, auth.Detail);
            }

            if (_proxy is not null && access is not null && access.Actions.Contains(AccessScope.Push))
            {
                await _proxy.RefusePushAsync(route.Repository, ct).ConfigureAwait(false);
            }

            uploading = route.Kind is RouteKind.UploadStart or RouteKind.Upload && !HttpMethods.IsGet(method) && !HttpMethods.IsDelete(method);
            if (uploading)
            {
                _metrics.UploadsInFlight.Inc();
            }

            await handler(context, route).ConfigureAwait(false);
        }
        catch (OciException e)
        {
            if (e.Code == OciErrorCode.Unknown)
            {
                Log.InternalError(_logger, context.Request.Method, context.Request.Path, e);
            }

            if (route is not null && e.Data[QuotaExceededProject] is string)
            {
                // The dispatcher, not each handler, tells listeners (webhooks) of a push the quota refused.
                _events.Publish(context, new RegistryEvent(RegistryEventKind.QuotaExceeded, route.Repository,
                    route.Kind == RouteKind.Manifest && route.Reference is { } r && ManifestReference.TryParse(r, out var reference, out _) ? reference : default, null, e.Detail));
            }

            await OciErrorWriter.WriteAsync(context, e.Code, e.Detail, e.Headers, e.StatusOverride).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (BadHttpRequestException e)
        {
            // A body shorter than its Content-Length, a read timeout: the upload is incomplete.
            await OciErrorWriter.WriteAsync(context, OciErrorCode.SizeInvalid, e.Message).ConfigureAwait(false);
        }
        finally
        {
            if (uploading)
            {
                _metrics.UploadsInFlight.Dec();
            }
        }
    }

    /// <summary>Set on <see cref="Exception.Data"/> of a push the project's quota refused: the project's name.</summary>
    public const string QuotaExceededProject = "wharf.quota-exceeded";

    /// <summary>The distribution spec's endpoint names, so the request series have a few routes, not one per repository.</summary>
    private static string RouteTemplate(RouteKind kind) => kind switch
    {
        RouteKind.Base => "/v2/",
        RouteKind.Catalog => "/v2/_catalog",
        RouteKind.Manifest => "/v2/{name}/manifests/{reference}",
        RouteKind.Blob => "/v2/{name}/blobs/{digest}",
        RouteKind.UploadStart => "/v2/{name}/blobs/uploads/",
        RouteKind.Upload => "/v2/{name}/blobs/uploads/{id}",
        RouteKind.TagList => "/v2/{name}/tags/list",
        RouteKind.Referrers => "/v2/{name}/referrers/{digest}",
        _ => "/v2/",
    };

    private (AccessScope? Access, Func<HttpContext, RegistryRoute, Task>? Handler) Select(RegistryRoute route, string method)
    {
        bool get = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        var repo = route.Repository;
        return route.Kind switch
        {
            RouteKind.Base when get => (null, BaseAsync),
            RouteKind.Catalog when HttpMethods.IsGet(method) => (AccessScope.Catalog, CatalogAsync),
            RouteKind.TagList when HttpMethods.IsGet(method) => (Pull(repo), TagListAsync),
            RouteKind.Referrers when HttpMethods.IsGet(method) => (Pull(repo), ReferrersAsync),
            RouteKind.Manifest when get => (Pull(repo), GetManifestAsync),
            RouteKind.Manifest when HttpMethods.IsPut(method) => (PullPush(repo), PutManifestAsync),
            RouteKind.Manifest when HttpMethods.IsDelete(method) => (AccessScope.Repository(repo, AccessScope.Delete), DeleteManifestAsync),
            RouteKind.Blob when get => (Pull(repo), GetBlobAsync),
            RouteKind.Blob when HttpMethods.IsDelete(method) => (AccessScope.Repository(repo, AccessScope.Delete), DeleteBlobAsync),
            RouteKind.UploadStart when HttpMethods.IsPost(method) => (PullPush(repo), StartUploadAsync),
            RouteKind.Upload when HttpMethods.IsPatch(method) => (PullPush(repo), PatchUploadAsync),
            RouteKind.Upload when HttpMethods.IsPut(method) => (PullPush(repo), PutUploadAsync),
            RouteKind.Upload when HttpMethods.IsGet(method) => (PullPush(repo), GetUploadAsync),
            RouteKind.Upload when HttpMethods.IsDelete(method) => (PullPush(repo), DeleteUploadAsync),
            _ => (null, null),
        };

        static AccessScope Pull(RepositoryName r) => AccessScope.Repository(r, AccessScope.Pull);

        static AccessScope PullPush(RepositoryName r) => AccessScope.Repository(r, AccessScope.Pull, AccessScope.Push);
    }

    /// <summary>
    /// The 401 challenge for the route's scope. A cross-repository mount (<c>?mount=&amp;from=</c>)
    /// also asks for pull on the source, as distribution does, so a client that fetches exactly the
    /// challenged scopes gets a token that lets the mount happen instead of a full upload.
    /// </summary>
    private void WriteChallenge(HttpContext context, RegistryRoute route, AccessScope? access, string? error)
    {
        _authorizer.WriteChallenge(context, access, error);
        if (access is null || route.Kind != RouteKind.UploadStart || !context.Request.Query.ContainsKey("mount")
            || !RepositoryName.TryParse(context.Request.Query["from"].ToString(), out var from, out _) || from == route.Repository)
        {
            return;
        }

        string header = context.Response.Headers.WWWAuthenticate.ToString();
        string scope = $"scope=\"{access.Scope}\"";
        string both = $"scope=\"{access.Scope} {AccessScope.Repository(from, AccessScope.Pull).Scope}\"";
        context.Response.Headers.WWWAuthenticate = header.Replace(scope, both, StringComparison.Ordinal);
    }

    private static Task BaseAsync(HttpContext context, RegistryRoute route)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = 2;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : context.Response.WriteAsync("{}", context.RequestAborted);
    }

    private static Digest ParseDigest(string? text)
    {
        if (!Digest.TryParse(text, out var digest, out var error))
        {
            throw new OciException(OciErrorCode.DigestInvalid, error);
        }

        return digest;
    }

    private static void LiftBodyLimit(HttpContext context)
    {
        var feature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false })
        {
            feature.MaxRequestBodySize = null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "{Method} {Path} failed")]
        public static partial void InternalError(ILogger logger, string method, PathString path, Exception exception);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "manifest {Repository}@{Digest} pushed ({MediaType}, tags: {Tags})")]
        public static partial void ManifestPushed(ILogger logger, RepositoryName repository, Digest digest, string mediaType, string tags);

        [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "manifest {Repository}@{Reference} deleted")]
        public static partial void ManifestDeleted(ILogger logger, RepositoryName repository, string reference);

        [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "blob {Digest} committed to {Repository} ({Size} bytes)")]
        public static partial void BlobCommitted(ILogger logger, Digest digest, RepositoryName repository, long size);

        [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "blob {Digest} mounted into {Repository} from {From}")]
        public static partial void BlobMounted(ILogger logger, Digest digest, RepositoryName repository, RepositoryName from);
    }
}
