using Microsoft.AspNetCore.Http;
using Wharf.Oci;

namespace Wharf.Registry.Auth;

/// <summary>
/// What one /v2 request needs: one resource scope of the Docker token spec ("Token Scope
/// Documentation": <c>resourcetype:resourcename:action[,action]</c>), as asked for in a challenge's
/// <c>scope</c> and granted in a token's <c>access</c> claim (<see cref="GrantedAccess"/>):
/// <c>repository:&lt;name&gt;:pull|push|delete</c> (Type "repository"), or
/// <c>registry:catalog:*</c> (Type "registry", Name "catalog").
/// A null access means the request needs only a valid identity (GET /v2/).
/// </summary>
public sealed record AccessScope(string Type, string Name, IReadOnlyList<string> Actions)
{
    public const string Pull = "pull";
    public const string Push = "push";
    public const string Delete = "delete";

    public static AccessScope Repository(RepositoryName name, params string[] actions) => new("repository", name.Value, actions);

    public static AccessScope Catalog { get; } = new("registry", "catalog", ["*"]);

    /// <summary>The scope string of the token spec: <c>type:name:a,b</c>.</summary>
    public string Scope => $"{Type}:{Name}:{string.Join(',', Actions)}";
}

public enum AuthorizationKind
{
    Allowed,

    /// <summary>No or bad credentials: 401 with a WWW-Authenticate challenge for this scope.</summary>
    Challenge,

    /// <summary>Known caller, not permitted: 403 DENIED.</summary>
    Denied,

    /// <summary>A private repository seen by an outsider: answered exactly like a missing one (401 insufficient_scope).</summary>
    HiddenAsUnknown,
}

public sealed record AuthorizationResult(AuthorizationKind Kind, string? Detail = null)
{
    public static AuthorizationResult Allow { get; } = new(AuthorizationKind.Allowed);
}

/// <summary>
/// The one layer in front of every /v2 endpoint. The endpoint code never looks at credentials;
/// the dispatcher calls this with the access the parsed route needs, before any handler runs.
/// </summary>
public interface IRegistryAuthorizer
{
    ValueTask<AuthorizationResult> AuthorizeAsync(HttpContext context, AccessScope? access, CancellationToken cancellationToken);

    /// <summary>Whether the caller of <paramref name="context"/> may see <paramref name="repository"/> in the catalog.</summary>
    ValueTask<bool> CanListAsync(HttpContext context, RepositoryName repository, CancellationToken cancellationToken);

    /// <summary>Writes the 401 challenge headers for <paramref name="access"/>.</summary>
    void WriteChallenge(HttpContext context, AccessScope? access, string? error = null);
}

/// <summary>The open registry: everything is allowed (the default until identities are configured).</summary>
public sealed class OpenRegistryAuthorizer : IRegistryAuthorizer
{
    public ValueTask<AuthorizationResult> AuthorizeAsync(HttpContext context, AccessScope? access, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AuthorizationResult.Allow);

    public ValueTask<bool> CanListAsync(HttpContext context, RepositoryName repository, CancellationToken cancellationToken) =>
        ValueTask.FromResult(true);

    public void WriteChallenge(HttpContext context, AccessScope? access, string? error = null)
    {
    }
}
