using Wharf.Registry.Auth;
using Wharf.Registry.Management;

namespace Wharf.Registry.Identity;

/// <summary>
/// Harbor's rules for local accounts, for the management API and the portal: system admins create,
/// disable, promote and delete accounts (never disabling, demoting or deleting themselves) and reset
/// passwords; everyone changes their own password by proving the old one. Every change that ends an
/// account's access revokes its tokens (and with them its portal sessions) at once.
/// </summary>
public sealed class UserAccounts(IUserStore users, PasswordHasher hasher, IdentityOptions options, RefreshTokens refreshTokens, CredentialVerifier verifier)
{
    public static Caller RequireSysAdmin(Caller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return caller.IsAnonymous ? throw ApiException.Unauthorized()
            : caller.IsSysAdmin ? caller
            : throw ApiException.Forbidden("only system admins may do this");
    }

    public async Task<User> FindAsync(long id, CancellationToken cancellationToken) =>
        await users.FindByIdAsync(id, cancellationToken).ConfigureAwait(false) ?? throw ApiException.NotFound($"user {id} not found");

    public async Task<User> CreateAsync(Caller caller, string? username, string? password, string? email, string? realName, string? comment, CancellationToken cancellationToken)
    {
        RequireSysAdmin(caller);
        if (string.IsNullOrWhiteSpace(username) || username.Length > 255 || username.Contains(':', StringComparison.Ordinal)
            || username.Any(char.IsControl) || username.StartsWith(options.RobotPrefix, StringComparison.OrdinalIgnoreCase) || username != username.Trim())
        {
            throw ApiException.BadRequest($"username must be 1 to 255 characters without ':', control characters, surrounding spaces or the prefix {options.RobotPrefix}");
        }

        if (PasswordHasher.CheckPolicy(password) is { } weak)
        {
            throw ApiException.BadRequest(weak);
        }

        CheckProfile(email, realName, comment);
        return await users.CreateAsync(new NewUser(username, email, realName, comment, SysAdmin: false), hasher.Hash(password!), cancellationToken).ConfigureAwait(false)
            ?? throw ApiException.Conflict($"username {username} is already taken (names are compared without regard to case)");
    }

    /// <summary>A system admin sets someone else's password without knowing it; everyone proves the old one for their own.</summary>
    public async Task ChangePasswordAsync(Caller caller, User user, string? oldPassword, string? newPassword, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(user);
        bool self = caller.User?.Id == user.Id;
        if (!self && !caller.IsSysAdmin)
        {
            throw ApiException.Forbidden("you may only see and change your own account");
        }

        string? hash = await users.GetPasswordHashAsync(user.Id, cancellationToken).ConfigureAwait(false);
        if (self && !PasswordHasher.Verify(oldPassword ?? "", hash))
        {
            throw ApiException.Forbidden("the old password is wrong");
        }

        if (PasswordHasher.CheckPolicy(newPassword) is { } weak)
        {
            throw ApiException.BadRequest(weak);
        }

        if (PasswordHasher.Verify(newPassword!, hash))
        {
            throw ApiException.BadRequest("the new password must differ from the old one");
        }

        await users.SetPasswordHashAsync(user.Id, hasher.Hash(newPassword!), cancellationToken).ConfigureAwait(false);
        await RevokedAsync(user.Id, cancellationToken).ConfigureAwait(false);
    }

    public async Task SetSysAdminAsync(Caller caller, User user, bool sysAdmin, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        RequireSysAdmin(caller);
        if (user.Id == caller.User!.Id && !sysAdmin)
        {
            throw ApiException.Forbidden("you cannot remove your own system admin role");
        }

        await users.SetSysAdminAsync(user.Id, sysAdmin, cancellationToken).ConfigureAwait(false);
        verifier.Invalidate();
    }

    public async Task SetDisabledAsync(Caller caller, User user, bool disabled, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        RequireSysAdmin(caller);
        if (user.Id == caller.User!.Id)
        {
            throw ApiException.Forbidden("you cannot disable yourself");
        }

        await users.SetDisabledAsync(user.Id, disabled, cancellationToken).ConfigureAwait(false);
        await RevokedAsync(user.Id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes the account with its memberships and sessions; never one's own.</summary>
    public async Task DeleteAsync(Caller caller, User user, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        RequireSysAdmin(caller);
        if (user.Id == caller.User!.Id)
        {
            throw ApiException.Forbidden("you cannot delete yourself");
        }

        await users.DeleteAsync(user.Id, cancellationToken).ConfigureAwait(false);
        await RevokedAsync(user.Id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Email, real name and comment (Harbor's PUT /users/{id}): one's own, or anyone's for a system admin.
    /// Each value is replaced as given (null clears it); a bad value changes nothing.
    /// </summary>
    public async Task UpdateProfileAsync(Caller caller, User user, string? email, string? realName, string? comment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(user);
        if (caller.User?.Id != user.Id && !caller.IsSysAdmin)
        {
            throw ApiException.Forbidden("you may only see and change your own account");
        }

        CheckProfile(email, realName, comment);
        if (!await users.UpdateProfileAsync(user.Id, email, realName, comment, cancellationToken).ConfigureAwait(false))
        {
            throw ApiException.NotFound($"user {user.Id} not found");
        }

        // Callers verified a moment ago carry the account as it was; GET /users/current would show the old email.
        verifier.Invalidate();
    }

    /// <summary>The profile's values as any account may hold them, on creation and on change alike.</summary>
    private static void CheckProfile(string? email, string? realName, string? comment)
    {
        CheckProfileField("email", email);
        CheckProfileField("realname", realName);
        CheckProfileField("comment", comment);
        if (!string.IsNullOrEmpty(email) && !LooksLikeEmail(email))
        {
            throw ApiException.BadRequest("email must look like name@host, or be empty");
        }
    }

    private static void CheckProfileField(string name, string? value)
    {
        if (value is not null && (value.Length > 255 || value.Any(char.IsControl)))
        {
            throw ApiException.BadRequest($"{name} must be at most 255 characters without control characters");
        }
    }

    private static bool LooksLikeEmail(string email)
    {
        int at = email.IndexOf('@', StringComparison.Ordinal);
        return at > 0 && at < email.Length - 1 && at == email.LastIndexOf('@') && !email.Any(char.IsWhiteSpace);
    }

    public async Task RevokeTokensAsync(User user, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        await users.RevokeTokensAsync(user.Id, cancellationToken).ConfigureAwait(false);
        await RevokedAsync(user.Id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>After an account's token generation went up (or it was deleted): its tokens already issued stop working in this process.</summary>
    private async Task RevokedAsync(long userId, CancellationToken cancellationToken)
    {
        await refreshTokens.RevokeIssuedAsync("user", userId, cancellationToken).ConfigureAwait(false);
        verifier.Invalidate();
    }
}
