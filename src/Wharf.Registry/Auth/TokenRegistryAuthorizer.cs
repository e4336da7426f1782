using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;
using Wharf.Oci;
using Wharf.Registry.Identity;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Auth;

/// <summary>
/// Harbor's rules in front of /v2. A bearer token is checked for signature, issuer, audience and
/// expiry, then for the scope the route needs; only when the token lacks that scope is the database
/// asked why, so the answer can be exact: the caller may do it but must fetch a wider token (401
/// insufficient_scope), it may see the repository but not do this (403), or the repository's project is
/// private or missing for it (401 insufficient_scope too, the same answer either way). Basic credentials sent
/// straight to /v2 are checked against the database on each request (with a short memory).
/// </summary>
public sealed class TokenRegistryAuthorizer(RegistryTokens tokens, CredentialVerifier verifier, AccessEvaluator evaluator, IdentityOptions options) : IRegistryAuthorizer
{
    /// <summary>RFC 6750 §3.1 error codes, carried in a Challenge's Detail for the WWW-Authenticate header.</summary>
    public const string InvalidToken = "invalid_token";

    public const string InsufficientScope = "insufficient_scope";

    private const string CallerKey = "wharf.caller";
    private const string SubjectKey = "wharf.subject";
    private const string ListCacheKey = "wharf.list-cache";
    private const string ChallengeErrorKey = "wharf.challenge-error";

    public async ValueTask<AuthorizationResult> AuthorizeAsync(HttpContext context, AccessScope? access, CancellationToken cancellationToken)
    {
        var result = await AuthorizeCoreAsync(context, access, cancellationToken).ConfigureAwait(false);

        // The dispatcher may call WriteChallenge without the error; remember it for the header.
        context.Items[ChallengeErrorKey] = result.Kind == AuthorizationKind.Challenge ? result.Detail : null;
        return result;
    }

    private async ValueTask<AuthorizationResult> AuthorizeCoreAsync(HttpContext context, AccessScope? access, CancellationToken cancellationToken)
    {
        string? authorization = context.Request.Headers.Authorization;
        if (string.IsNullOrEmpty(authorization) || !AuthenticationHeaderValue.TryParse(authorization, out var header) || header.Parameter is null)
        {
            return new AuthorizationResult(AuthorizationKind.Challenge);
        }

        Caller? caller;
        if (string.Equals(header.Scheme, "Bearer", StringComparison.OrdinalIgnoreCase))
        {
            var token = tokens.Validate(header.Parameter, out _);
            if (token is null || token.Access.Any(a => a.Type == "refresh"))
            {
                return new AuthorizationResult(AuthorizationKind.Challenge, InvalidToken);
            }

            context.Items[SubjectKey] = token.Subject;
            context.Items[Api.RegistryCaller.ItemKey] = token.Subject;
            if (access is null || token.Covers(access))
            {
                return AuthorizationResult.Allow;
            }

            caller = await verifier.ResolveSubjectAsync(token.Subject, cancellationToken).ConfigureAwait(false);
            if (caller is null)
            {
                return new AuthorizationResult(AuthorizationKind.Challenge, InvalidToken);
            }

            context.Items[CallerKey] = caller;
            return await DecideAsync(caller, access, fromToken: true, cancellationToken).ConfigureAwait(false);
        }

        if (!CredentialVerifier.TryParseBasic(authorization, out string username, out string password))
        {
            return new AuthorizationResult(AuthorizationKind.Challenge);
        }

        caller = await verifier.VerifyAsync(username, password, cancellationToken).ConfigureAwait(false);
        if (caller is null)
        {
            return new AuthorizationResult(AuthorizationKind.Challenge);
        }

        context.Items[CallerKey] = caller;
        context.Items[Api.RegistryCaller.ItemKey] = caller.Name;
        return access is null ? AuthorizationResult.Allow : await DecideAsync(caller, access, fromToken: false, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> CanListAsync(HttpContext context, RepositoryName repository, CancellationToken cancellationToken)
    {
        var caller = await CallerOfAsync(context, cancellationToken).ConfigureAwait(false);
        if (caller is null)
        {
            return false;
        }

        if (caller.IsSysAdmin)
        {
            return true;
        }

        if (context.Items[ListCacheKey] is not Dictionary<string, bool> cache)
        {
            cache = new Dictionary<string, bool>(StringComparer.Ordinal);
            context.Items[ListCacheKey] = cache;
        }

        string project = repository.Project;
        if (!cache.TryGetValue(project, out bool visible))
        {
            var projectAccess = await evaluator.EvaluateAsync(caller, project, cancellationToken).ConfigureAwait(false);
            visible = projectAccess.Actions.HasFlag(RepositoryActions.Pull);
            cache[project] = visible;
        }

        return visible;
    }

    public void WriteChallenge(HttpContext context, AccessScope? access, string? error = null)
    {
        error ??= context.Items[ChallengeErrorKey] as string;
        string realm = TokenRealm(context);
        string challenge = $"Bearer realm=\"{realm}\",service=\"{options.TokenService}\"";
        if (access is not null)
        {
            challenge += $",scope=\"{access.Scope}\"";
        }

        if (error is not null)
        {
            challenge += $",error=\"{error}\"";
        }

        context.Response.Headers.WWWAuthenticate = challenge;
    }

    /// <summary>The realm from configuration, else this request's own origin.</summary>
    public string TokenRealm(HttpContext context) =>
        string.IsNullOrEmpty(options.TokenRealm)
            ? $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}{TokenEndpoints.Path}"
            : options.TokenRealm;

    /// <summary>The caller a request authenticated as in <see cref="AuthorizeAsync"/>, resolved once per request.</summary>
    public async ValueTask<Caller?> CallerOfAsync(HttpContext context, CancellationToken cancellationToken)
    {
        if (context.Items[CallerKey] is Caller known)
        {
            return known;
        }

        if (context.Items[SubjectKey] is string subject)
        {
            var caller = await verifier.ResolveSubjectAsync(subject, cancellationToken).ConfigureAwait(false);
            context.Items[CallerKey] = caller;
            return caller;
        }

        return null;
    }

    private async Task<AuthorizationResult> DecideAsync(Caller caller, AccessScope access, bool fromToken, CancellationToken cancellationToken)
    {
        if (access.Type == "registry" && access.Name == "catalog")
        {
            // Every authenticated caller may list; CanListAsync filters what it sees.
            return fromToken ? Insufficient() : AuthorizationResult.Allow;
        }

        if (access.Type != "repository" || !RepositoryName.TryParse(access.Name, out var repository, out _))
        {
            return new AuthorizationResult(AuthorizationKind.Denied);
        }

        var asked = access.Actions.Aggregate(RepositoryActions.None, (all, a) => all | ProjectRoles.ParseAction(a));
        var projectAccess = await evaluator.EvaluateAsync(caller, repository.Project, cancellationToken).ConfigureAwait(false);
        var missing = asked & ~projectAccess.Actions;
        if (missing == RepositoryActions.None)
        {
            // The caller holds the right but this token does not carry it: ask for a wider token.
            return fromToken ? Insufficient() : AuthorizationResult.Allow;
        }

        if (caller.IsAnonymous && (missing & ~RepositoryActions.Pull) != RepositoryActions.None)
        {
            // Anonymous writes: log in first.
            return Insufficient();
        }

        if (!projectAccess.Actions.HasFlag(RepositoryActions.Pull) && caller.IsSysAdmin && asked == RepositoryActions.Pull)
        {
            // A system admin sees every project, so there is nothing to hide: a pull of a missing
            // project's repository gets the plain 404 NAME_UNKNOWN from the handler.
            return fromToken ? Insufficient() : AuthorizationResult.Allow;
        }

        if (!projectAccess.Actions.HasFlag(RepositoryActions.Pull))
        {
            // A private project is answered exactly as a missing one (401 insufficient_scope, one
            // message for both): a pull hears that the repository does not exist or needs a login with
            // access, a push that the project does not exist, as Harbor says it.
            return new AuthorizationResult(
                AuthorizationKind.HiddenAsUnknown,
                asked == RepositoryActions.Pull
                    ? $"pull access to {repository.Value} denied: the repository does not exist or needs a login with access to it"
                    : $"project {repository.Project} not found");
        }

        string verbs = string.Join(",", missing.Names());
        return new AuthorizationResult(AuthorizationKind.Denied, $"{DisplayName(caller)} may not {verbs} {repository.Value}");
    }

    private static AuthorizationResult Insufficient() => new(AuthorizationKind.Challenge, InsufficientScope);

    private static string DisplayName(Caller caller) => caller.IsAnonymous ? "anonymous" : caller.Name;
}
