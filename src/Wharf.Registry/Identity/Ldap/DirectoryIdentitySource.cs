using Microsoft.Extensions.Logging;

namespace Wharf.Registry.Identity.Ldap;

/// <summary>
/// The identity source in force: the local database under <c>db_auth</c>; under <c>ldap_auth</c> the
/// directory for everyone but the local <c>admin</c> (the break-glass account, always checked locally).
/// A directory login creates the local account on first use from the entry's attributes (no local
/// password), keeps email and display name current, and records the person's groups for
/// <see cref="DirectoryGroupRoles"/>. When the directory cannot be asked the check fails closed with
/// <see cref="DirectoryUnavailableException"/>, which is not a failed guess, with one exception: while the
/// directory does not answer at all, the very password it accepted for that name within
/// <c>ldap_group_cache_seconds</c> (<see cref="RememberedDirectoryLogins"/>) stands in for it, so pulls go on
/// with the group memberships cached for the same window. Another password for a name remembered that way is
/// refused the same way but counts as a failed guess, since a right one would be let in.
/// </summary>
public sealed partial class DirectoryIdentitySource(
    LocalIdentitySource local, AuthConfiguration configuration, LdapDirectory directory, IUserStore users, DirectoryAccounts accounts,
    RememberedDirectoryLogins remembered, TimeProvider time, ILogger<DirectoryIdentitySource> logger) : IIdentitySource
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
            var since = time.GetUtcNow() - settings.GroupCacheLifetime;
            long userId = 0;
            switch (e.Unreachable ? remembered.Check(username, password, since, out userId) : RememberedLogin.Unknown)
            {
                case RememberedLogin.Matches:
                    return await RememberedAsync(settings, userId, cancellationToken).ConfigureAwait(false);
                case RememberedLogin.DifferentPassword:
                    throw new DirectoryUnavailableException(e.Message, e, unreachable: true) { FailedGuess = true };
                default:
                    throw;
            }
        }

        if (found is not { } person)
        {
            // The directory answered no: a password remembered for an outage no longer counts either.
            remembered.Forget(username, password);
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
        var now = time.GetUtcNow();
        await accounts.SaveAsync(user.Id, person.Entry.Dn, person.Groups, groupAdmin, now, cancellationToken).ConfigureAwait(false);
        if (await users.FindByIdAsync(user.Id, cancellationToken).ConfigureAwait(false) is not { } current)
        {
            return null;
        }

        remembered.Remember(username, password, current.Id, now);
        return current with { AdminRoleInAuth = groupAdmin };
    }

    /// <summary>
    /// The account behind a password verified before the outage, as it is locally now (null when deleted or
    /// disabled meanwhile), with the admin group's role only while the groups read count.
    /// </summary>
    private async Task<User?> RememberedAsync(LdapSettings settings, long userId, CancellationToken cancellationToken)
    {
        if (await users.FindByIdAsync(userId, cancellationToken).ConfigureAwait(false) is not { Disabled: false } user)
        {
            return null;
        }

        var account = await accounts.FindAsync(userId, cancellationToken).ConfigureAwait(false);
        bool groupAdmin = account is not null && account.GroupAdmin && time.GetUtcNow() - account.GroupsReadAt <= settings.GroupCacheLifetime;
        LogRemembered(logger, user.Username);
        return user with { AdminRoleInAuth = groupAdmin };
    }

    [LoggerMessage(EventId = 4130, Level = LogLevel.Warning, Message = "Directory login of {Username} refused: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string username, string reason);

    [LoggerMessage(EventId = 4135, Level = LogLevel.Information, Message = "Directory unreachable: {Username} let in with the password it accepted within ldap_group_cache_seconds")]
    private static partial void LogRemembered(ILogger logger, string username);

    [LoggerMessage(EventId = 4131, Level = LogLevel.Information, Message = "Created account {Username} for directory entry {Dn}")]
    private static partial void LogOnboarded(ILogger logger, string username, string dn);
}
