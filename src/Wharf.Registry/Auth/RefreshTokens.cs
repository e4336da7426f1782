using System.Globalization;
using Wharf.Registry.Identity;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Auth;

/// <summary>
/// The refresh tokens <c>/service/token</c> hands out for <c>docker login</c> / <c>podman login</c> (kept as
/// the identity token). One is a signed JWT with a single pseudo-grant no /v2 scope ever matches:
/// type <c>refresh</c>, name <c>user:&lt;id&gt;:&lt;generation&gt;</c> or <c>robot:&lt;id&gt;:&lt;generation&gt;</c>.
/// It is bound to the account's id, never its name, so a deleted account's token does not work for a
/// new account of that name (ids are never reused: AUTOINCREMENT). It works only while the account's token
/// generation is the one it names: a password change, a robot secret refresh, disabling the account and
/// an admin's revocation each bump the generation, which kills every earlier refresh token at once.
/// </summary>
public sealed class RefreshTokens(RegistryTokens tokens, IUserStore users, IRobotStore robots, IdentityOptions options, TimeProvider time)
{
    public const string GrantType = "refresh";

    /// <summary>A refresh token for the caller's account as it is now; null for anonymous or an account gone meanwhile.</summary>
    public async Task<string?> IssueAsync(Caller caller, CancellationToken cancellationToken)
    {
        string? account = await AccountAsync(caller, cancellationToken).ConfigureAwait(false);
        return account is null ? null : tokens.Issue(caller.Name, [new GrantedAccess(GrantType, account, [GrantType])], options.RefreshTokenLifetime, account).Token;
    }

    /// <summary>The caller's account and its current token generation, <c>user:&lt;id&gt;:&lt;generation&gt;</c>; null for anonymous or an account gone meanwhile.</summary>
    public async Task<string?> AccountAsync(Caller caller, CancellationToken cancellationToken)
    {
        var (kind, id) = caller.Kind switch
        {
            CallerKind.User => ("user", caller.User!.Id),
            CallerKind.Robot => ("robot", caller.Robot!.Id),
            _ => ("", 0L),
        };
        if (id == 0)
        {
            return null;
        }

        long? generation = await GenerationAsync(kind, id, cancellationToken).ConfigureAwait(false);
        return generation is null ? null : string.Create(CultureInfo.InvariantCulture, $"{kind}:{id}:{generation}");
    }

    /// <summary>
    /// Tells the token issuer that the account's earlier tokens are dead (after its generation was bumped,
    /// or it was deleted), so access tokens already handed out stop working too, not only refresh tokens.
    /// </summary>
    public async Task RevokeIssuedAsync(string kind, long id, CancellationToken cancellationToken)
    {
        long? generation = await GenerationAsync(kind, id, cancellationToken).ConfigureAwait(false);
        tokens.Revoke(kind, id, generation ?? long.MaxValue);
    }

    private Task<long?> GenerationAsync(string kind, long id, CancellationToken cancellationToken) => kind == "user"
        ? users.GetTokenGenerationAsync(id, cancellationToken)
        : robots.GetTokenGenerationAsync(id, cancellationToken);

    /// <summary>The account a refresh token stands for, when the token is ours, unexpired and not revoked, and the account usable.</summary>
    public async Task<Caller?> ResolveAsync(string token, CancellationToken cancellationToken)
    {
        var validated = tokens.Validate(token, out _);
        if (validated?.Access is not [{ Type: GrantType } grant])
        {
            return null;
        }

        string[] parts = grant.Name.Split(':');
        if (parts.Length != 3
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long id)
            || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out long generation))
        {
            // Refresh tokens of earlier versions named the account, not its id: they cannot be checked, so they are refused.
            return null;
        }

        switch (parts[0])
        {
            case "user":
                var user = await users.FindByIdAsync(id, cancellationToken).ConfigureAwait(false);
                return user is { Disabled: false } && await users.GetTokenGenerationAsync(id, cancellationToken).ConfigureAwait(false) == generation
                    ? Caller.ForUser(user)
                    : null;
            case "robot":
                var robot = await robots.FindByIdAsync(id, cancellationToken).ConfigureAwait(false);
                return robot is { Disabled: false } && !robot.IsExpired(time.GetUtcNow())
                    && await robots.GetTokenGenerationAsync(id, cancellationToken).ConfigureAwait(false) == generation
                    ? Caller.ForRobot(robot)
                    : null;
            default:
                return null;
        }
    }
}
