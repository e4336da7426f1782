namespace Wharf.Registry.Identity;

/// <summary>
/// Where people's passwords are checked: the local database today, LDAP or OIDC later. A source
/// answers only "who is this"; roles and projects stay in Wharf's own tables.
/// </summary>
public interface IIdentitySource
{
    /// <summary>Harbor's auth_mode name (db_auth, ldap_auth, oidc_auth).</summary>
    string AuthMode { get; }

    /// <summary>The enabled account for these credentials, or null.</summary>
    Task<User?> AuthenticateAsync(string username, string password, CancellationToken cancellationToken);
}

public sealed class LocalIdentitySource(IUserStore users, PasswordHasher hasher) : IIdentitySource
{
    public string AuthMode => "db_auth";

    public async Task<User?> AuthenticateAsync(string username, string password, CancellationToken cancellationToken)
    {
        var user = await users.FindByNameAsync(username, cancellationToken).ConfigureAwait(false);
        string? hash = user is null || user.Disabled ? null : await users.GetPasswordHashAsync(user.Id, cancellationToken).ConfigureAwait(false);

        // An unknown or disabled name is checked against a dummy hash: refusing it takes as long as a
        // wrong password, so the time of the answer does not tell which names exist.
        return hasher.Matches(password, hash) && user is { Disabled: false } ? user : null;
    }
}
