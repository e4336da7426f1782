using Microsoft.AspNetCore.Http;
using Wharf.Oci;

namespace Wharf.Registry.Api;

public enum RegistryEventKind
{
    ManifestPushed,
    ManifestPulled,
    ManifestDeleted,
    TagDeleted,
    BlobDeleted,

    /// <summary>A push refused by its project's quota (Detail says by how much); Reference is the manifest's when it was one.</summary>
    QuotaExceeded,
}

/// <summary>
/// What a /v2 request did once it succeeded: the repository, the reference as the client named it
/// (tag or digest) and the manifest's or blob's digest when known; Detail is a refusal's message.
/// </summary>
public readonly record struct RegistryEvent(RegistryEventKind Kind, RepositoryName Repository, ManifestReference Reference, Digest? Digest = null, string? Detail = null);

/// <summary>
/// Told of every successful push, pull and delete on /v2 (the audit log listens). Called on the request
/// path, so implementations must not block: a pull of a tag must cost no database write.
/// </summary>
public interface IRegistryEvents
{
    void Publish(HttpContext context, in RegistryEvent registryEvent);
}

/// <summary>Nobody listens (a registry without accounts).</summary>
public sealed class NoRegistryEvents : IRegistryEvents
{
    public void Publish(HttpContext context, in RegistryEvent registryEvent)
    {
    }
}

/// <summary>
/// Who made a /v2 request, as the authorizer established it: it stores the name under
/// <see cref="ItemKey"/> on <see cref="HttpContext.Items"/> (a user, a robot, or "" for anonymous).
/// </summary>
public static class RegistryCaller
{
    public const string ItemKey = "wharf.caller-name";

    public const string Anonymous = "anonymous";

    public static string NameOf(HttpContext context) =>
        context?.Items[ItemKey] is string { Length: > 0 } name ? name : Anonymous;
}
