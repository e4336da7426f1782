using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Proxy;

namespace Wharf.Registry.Management;

/// <summary>
/// Harbor's upstream endpoints (/registries) for proxy-cache projects. System admins only. The
/// credential is write-only: answers say which kind of credential is set, never its key or secret.
/// </summary>
internal static class RegistryEndpointsApi
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapPost("/registries", Api.Handle(CreateAsync));
        api.MapGet("/registries", Api.Handle(ListAsync));
        api.MapPost("/registries/ping", Api.Handle(PingAsync));
        api.MapGet("/registries/{id}", Api.Handle(GetAsync));
        api.MapPut("/registries/{id}", Api.Handle(UpdateAsync));
        api.MapDelete("/registries/{id}", Api.Handle(DeleteAsync));
    }

    private static async Task<IResult> CreateAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<RegistryRequest>(context).ConfigureAwait(false);
        var registry = Validate(request, existing: null);
        var created = await Store(context).CreateAsync(registry, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.Conflict($"registry {registry.Name} already exists");
        Api.Audit(context, caller, "create", "registry", created.Name, null);
        return Api.Created(context, $"{Api.Prefix}/registries/{created.Id}");
    }

    private static async Task<IResult> ListAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        var all = await Store(context).ListAsync(context.Request.Query["name"], context.RequestAborted).ConfigureAwait(false);
        var (page, pageSize) = Api.Paging(context);
        Api.WritePaging(context, all.Count, page, pageSize);
        return Results.Json(Api.Page(context, all).Select(RegistryResponse.From), Api.Json);
    }

    private static async Task<IResult> GetAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        return Results.Json(RegistryResponse.From(await FindAsync(context).ConfigureAwait(false)), Api.Json);
    }

    private static async Task<IResult> UpdateAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var existing = await FindAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<RegistryRequest>(context).ConfigureAwait(false);
        var updated = Validate(request, existing);
        bool? done = await Store(context).UpdateAsync(updated, context.RequestAborted).ConfigureAwait(false);
        if (done is null)
        {
            throw ApiException.Conflict($"registry {updated.Name} already exists");
        }

        if (done == false)
        {
            throw ApiException.NotFound($"registry {existing.Id} not found");
        }

        Api.Audit(context, caller, "update", "registry", updated.Name, null);
        return Results.Ok();
    }

    private static async Task<IResult> DeleteAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var existing = await FindAsync(context).ConfigureAwait(false);
        long policies = await context.RequestServices.GetRequiredService<Replication.ReplicationStore>().PoliciesUsingAsync(existing.Id, context.RequestAborted).ConfigureAwait(false);
        if (policies > 0)
        {
            throw ApiException.Precondition($"registry {existing.Id} is used by {policies} replication policy(ies); delete them first");
        }

        try
        {
            await Store(context).DeleteAsync(existing.Id, context.RequestAborted).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            throw ApiException.Precondition(e.Message);
        }

        Api.Audit(context, caller, "delete", "registry", existing.Name, null);
        return Results.Ok();
    }

    /// <summary>
    /// Harbor's ping: of a stored endpoint (<c>id</c>), optionally with changed settings, or of
    /// settings not stored yet. 200 when GET /v2/ answers with the credential accepted, else 400.
    /// </summary>
    private static async Task<IResult> PingAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<RegistryRequest>(context).ConfigureAwait(false);
        UpstreamRegistry? existing = null;
        if (request.Id is long id)
        {
            existing = await Store(context).FindByIdAsync(id, context.RequestAborted).ConfigureAwait(false)
                ?? throw ApiException.NotFound($"registry {id} not found");
        }

        var registry = Validate(request with { Name = request.Name ?? existing?.Name ?? "ping" }, existing);
        var (client, lifetime) = UpstreamClients.CreateTransient(registry);
        using (lifetime)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(context.RequestServices.GetRequiredService<ProxyCacheOptions>().UpstreamTimeout);
            try
            {
                await client.PingAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or System.Text.Json.JsonException
                || (e is OperationCanceledException && !context.RequestAborted.IsCancellationRequested))
            {
                throw ApiException.BadRequest($"failed to ping registry {registry.Url}: {(e is OperationCanceledException ? "timed out" : UpstreamClient.Describe(e))}");
            }
        }

        return Results.Ok();
    }

    /// <summary>The endpoint the request describes, over <paramref name="existing"/> for an update; 400 on bad input.</summary>
    private static UpstreamRegistry Validate(RegistryRequest request, UpstreamRegistry? existing)
    {
        string? name = request.Name ?? existing?.Name;
        if (string.IsNullOrWhiteSpace(name) || name.Length > 255)
        {
            throw ApiException.BadRequest("name is required (at most 255 characters)");
        }

        string type = request.Type ?? existing?.Type ?? "docker-registry";
        if (!UpstreamRegistry.Types.Contains(type))
        {
            throw ApiException.BadRequest($"type must be one of {string.Join(", ", UpstreamRegistry.Types.Order(StringComparer.Ordinal))}");
        }

        Uri? url = existing?.Url;
        if (request.Url is not null)
        {
            if (!Uri.TryCreate(request.Url.Trim(), UriKind.Absolute, out url) || url.Scheme is not ("http" or "https")
                || !string.IsNullOrEmpty(url.UserInfo) || string.IsNullOrEmpty(url.Host))
            {
                throw ApiException.BadRequest("url must be an absolute http:// or https:// URL without credentials");
            }
        }

        if (url is null)
        {
            throw ApiException.BadRequest("url is required");
        }

        string? key = existing?.AccessKey;
        string? secret = existing?.AccessSecret;
        if (request.Credential is { } credential)
        {
            if (credential.Type is not (null or "basic"))
            {
                throw ApiException.BadRequest("credential.type must be \"basic\"");
            }

            key = string.IsNullOrEmpty(credential.AccessKey) ? null : credential.AccessKey;
            secret = credential.AccessSecret ?? (key == existing?.AccessKey ? existing?.AccessSecret : null);
            if (key is null != (secret is null))
            {
                throw ApiException.BadRequest("credential needs both access_key and access_secret, or neither for anonymous access");
            }
        }

        // A private CA for this endpoint only (wharf's addition to Harbor's model): PEM, checked here
        // so a typo is a 400 now rather than a TLS failure at the first pull. Empty removes it.
        string? ca = existing?.CaCertificate;
        if (request.CaCertificate is not null)
        {
            ca = string.IsNullOrWhiteSpace(request.CaCertificate) ? null : request.CaCertificate.Trim();
            if (ca is not null && !UpstreamRegistry.TryLoadCaCertificates(ca, out _, out string? caError))
            {
                throw ApiException.BadRequest($"ca_certificate: {caError}");
            }
        }

        return new UpstreamRegistry(
            existing?.Id ?? 0, name.Trim(), type, url, request.Description ?? existing?.Description, request.Insecure ?? existing?.Insecure ?? false,
            key, secret, existing?.CreatedAt ?? default, existing?.UpdatedAt ?? default) { CaCertificate = ca };
    }

    private static async Task<UpstreamRegistry> FindAsync(HttpContext context)
    {
        long id = Api.Id(context, "id");
        return await Store(context).FindByIdAsync(id, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"registry {id} not found");
    }

    private static IUpstreamRegistryStore Store(HttpContext context) => context.RequestServices.GetRequiredService<IUpstreamRegistryStore>();

    private sealed record CredentialRequest(string? Type, string? AccessKey, string? AccessSecret);

    private sealed record RegistryRequest(long? Id, string? Name, string? Type, string? Url, string? Description, bool? Insecure, CredentialRequest? Credential, string? CaCertificate = null);

    private sealed record CredentialResponse(string Type);

    private sealed record RegistryResponse(
        long Id, string Name, string Type, string Url, string Description, bool Insecure, CredentialResponse? Credential, string Status,
        string CreationTime, string UpdateTime, string? CaCertificate)
    {
        public static RegistryResponse From(UpstreamRegistry r) => new(
            r.Id, r.Name, r.Type, r.Url.ToString(), r.Description ?? string.Empty, r.Insecure,
            r.AccessKey is null ? null : new CredentialResponse("basic"), "unknown", Api.Time(r.CreatedAt), Api.Time(r.UpdatedAt), r.CaCertificate);
    }
}
