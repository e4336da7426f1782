using Microsoft.Extensions.Logging;

namespace Wharf.Registry.Identity.Ldap;

/// <summary>
/// The identity source in force: the local database under <c>db_auth</c>; under <c>ldap_auth</c> the
/// directory for everyone but the local <c>admin</c> (the break-glass account, always checked locally).
/// A directory login creates the local account on first use from the entry's attributes (no local
/// password), keeps email and display name current, and records the person's groups for
/// <see cref="DirectoryGroupRoles"/>. When the directory cannot be asked the check fails closed with
/// <see cref="DirectoryUnavailableException"/>, which is not a failed guess.
/// </summary>
public sealed partial class DirectoryIdentitySource(
    LocalIdentitySource local, AuthConfiguration configuration, LdapDirectory directory, IUserStore users, DirectoryAccounts accounts,
    TimeProvider time, ILogger<DirectoryIdentitySource> logger) : IIdentitySource
{
    public const string BreakGlassAccount = "admin";

    public string AuthMode => configuration.GetAsync(CancellationToken.None).GetAwaiter().GetResult().AuthMode;

    public async Task<User?> AuthenticateAsync(string username, string password, CancellationToken cancellationToken)
    {
        var settings = await configuration.GetAsync(cancellationToken).ConfigureAwait(false);
        if (!settings.IsLdap || username == BreakGlassAccount)
        {
            return await local.AuthenticateAsync(username, password, cancellationToken).ConfigureAwait(false);
        }

        (DirectoryUser Entry, IReadOnlyList<DirectoryGroup> Groups)? found;
        try
        {
            found = await directory.AuthenticateAsync(settings, username, password, cancellationToken).ConfigureAwait(false);
        }
        catch (DirectoryUnavailableException e)
        {
            LogUnavailable(logger, username, e.Message);
            throw;
        }

        if (found is not { } person)
        {
            return null;
        }

        string name = person.Entry.Username.Length > 0 ? person.Entry.Username : username;
        var user = await users.FindByNameAsync(name, cancellationToken).ConfigureAwait(false);
        if (user is null)
        {
            user = await users.CreateAsync(new NewUser(name, person.Entry.Email, person.Entry.DisplayName, "from the directory", SysAdmin: false), null, cancellationToken).ConfigureAwait(false)
                ?? await users.FindByNameAsync(name, cancellationToken).ConfigureAwait(false); // created by a login running at the same time
            if (user is null)
            {
                return null;
            }

            LogOnboarded(logger, name, person.Entry.Dn);
        }
        else if (user.Email != person.Entry.Email || user.RealName != person.Entry.DisplayName)
        {
            await users.UpdateProfileAsync(user.Id, person.Entry.Email, person.Entry.DisplayName, user.Comment, cancellationToken).ConfigureAwait(false);
        }

        if (user.Disabled)
        {
            return null;
        }

        // Admin through the directory's admin group is evaluated at each read of the groups and kept apart
        // from the stored sysadmin flag, so leaving the group takes it back (DirectoryGroupRoles.WithDirectoryAdminAsync).
        bool groupAdmin = DirectoryGroupRoles.IsAdminGroupMember(settings, person.Groups);
        await accounts.SaveAsync(user.Id, person.Entry.Dn, person.Groups, groupAdmin, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        return await users.FindByIdAsync(user.Id, cancellationToken).ConfigureAwait(false) is { } current
            ? current with { AdminRoleInAuth = groupAdmin }
            : null;
    }

    [LoggerMessage(EventId = 4130, Level = LogLevel.Warning, Message = "Directory login of {Username} refused: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string username, string reason);

    [LoggerMessage(EventId = 4131, Level = LogLevel.Information, Message = "Created account {Username} for directory entry {Dn}")]
    private static partial void LogOnboarded(ILogger logger, string username, string dn);
}
