using Microsoft.AspNetCore.Http;
using Wharf.Registry.Identity;
using Wharf.Registry.Management;
using ManagementApi = Wharf.Registry.Management.Api;

namespace Wharf.Registry.Portal;

/// <summary>Sign in (through the API's <see cref="CredentialVerifier"/>, so its throttling applies), sign out, own password.</summary>
internal static class AccountPages
{
    public static Task<IResult> LoginFormAsync(PortalPage page) =>
        Task.FromResult(LoginForm(page, page.Context.Request.Query["return"].ToString(), null, StatusCodes.Status200OK));

    private static IResult LoginForm(PortalPage page, string returnTo, string? error, int status)
    {
        Markup alert = error is null ? Markup.Empty : Html.Of($"<p class=\"error\" role=\"alert\" id=\"login-error\">{error}</p>");
        return page.Render("Sign in", Html.Of($"""
            {alert}
            <form method="post" action="/portal/login" class="stack">
            {page.Antiforgery()}
            <input type="hidden" name="return" value="{returnTo}">
            <label for="username">Username</label>
            <input id="username" name="username" autocomplete="username" required autofocus>
            <label for="password">Password</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required>
            <button type="submit">Sign in</button>
            </form>
            """), status);
    }

    public static async Task<IResult> LoginAsync(PortalPage page, IFormCollection form)
    {
        string username = form.Field("username");
        string password = form["password"].ToString();
        string returnTo = form.Field("return");
        Caller? caller;
        try
        {
            caller = username.Length == 0 ? null : await page.Service<CredentialVerifier>().VerifyAsync(username, password, page.Aborted).ConfigureAwait(false);
        }
        catch (LoginThrottledException e)
        {
            page.Context.Response.Headers.RetryAfter = ((long)Math.Ceiling(e.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return LoginForm(page, returnTo, "Too many failed sign-ins; wait a while and try again.", StatusCodes.Status429TooManyRequests);
        }
        catch (Identity.Ldap.DirectoryUnavailableException e)
        {
            // Fail closed, and say why: this is not a wrong password, and it does not count as a guess.
            return LoginForm(page, returnTo, $"The directory cannot be reached, so password sign-ins are refused until it answers ({e.Message}). The local admin account still works.", StatusCodes.Status503ServiceUnavailable);
        }

        // Robots have no portal: their secret is for registry clients only.
        if (caller?.User is not { } user)
        {
            return LoginForm(page, returnTo, "Wrong username or password.", StatusCodes.Status401Unauthorized);
        }

        await page.Service<PortalSessions>().SignInAsync(page.Context, user, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "login", "user", user.Username, null);

        // Only a local path: never an absolute or protocol-relative URL someone slipped into the link.
        bool local = returnTo.StartsWith('/') && !returnTo.StartsWith("//", StringComparison.Ordinal) && !returnTo.StartsWith("/\\", StringComparison.Ordinal);
        return Results.Redirect(local ? returnTo : "/");
    }

    public static async Task<IResult> LogoutAsync(PortalPage page, IFormCollection form)
    {
        await page.Service<PortalSessions>().SignOutAsync(page.Context, page.Aborted).ConfigureAwait(false);
        return Results.Redirect("/");
    }

    public static async Task<IResult> AccountAsync(PortalPage page)
    {
        var caller = page.RequireUser();
        // Read afresh: the session's copy of the account may predate a profile change.
        var user = await page.Service<UserAccounts>().FindAsync(caller.User!.Id, page.Aborted).ConfigureAwait(false);
        return page.Render("Your account", Html.Of($"""
            <dl class="facts"><dt>Username</dt><dd>{user.Username}</dd><dt>Email</dt><dd>{user.Email}</dd><dt>Real name</dt><dd>{user.RealName}</dd><dt>System admin</dt><dd>{(user.SysAdmin ? "yes" : caller.IsSysAdmin ? "yes, through the directory's admin group" : "no")}</dd></dl>
            <h2 id="profile">Profile</h2>
            <form method="post" action="/portal/account/profile" class="stack" aria-labelledby="profile">
            {page.Antiforgery()}
            <label for="email">Email</label>
            <input id="email" name="email" type="email" autocomplete="email" maxlength="255" value="{user.Email}">
            <label for="realname">Real name</label>
            <input id="realname" name="realname" autocomplete="name" maxlength="255" value="{user.RealName}">
            <button type="submit">Save profile</button>
            </form>
            <h2>Change password</h2>
            <p>Changing it signs you out everywhere, including saved <code>podman login</code> tokens.</p>
            <form method="post" action="/portal/account/password" class="stack">
            {page.Antiforgery()}
            <label for="old_password">Current password</label>
            <input id="old_password" name="old_password" type="password" autocomplete="current-password" required>
            <label for="new_password">New password</label>
            <input id="new_password" name="new_password" type="password" autocomplete="new-password" required aria-describedby="policy">
            <p id="policy" class="hint">At least 8 characters with an upper-case letter, a lower-case letter and a digit.</p>
            <button type="submit">Change password</button>
            </form>
            """));
    }

    /// <summary>
    /// As PUT /api/v2.0/users/{id} for one's own account (<see cref="UserAccounts.UpdateProfileAsync"/>):
    /// email and real name from the form, the comment kept; an empty field clears the value.
    /// </summary>
    public static async Task<IResult> UpdateProfileAsync(PortalPage page, IFormCollection form)
    {
        var caller = page.RequireUser();
        var accounts = page.Service<UserAccounts>();
        var user = await accounts.FindAsync(caller.User!.Id, page.Aborted).ConfigureAwait(false);
        static string? OrNull(string value) => value.Length == 0 ? null : value;
        await accounts.UpdateProfileAsync(caller, user, OrNull(form.Field("email")), OrNull(form.Field("realname")), user.Comment, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "update", "user", $"{user.Username} profile", null);
        return PortalPage.Back("/portal/account", "Profile saved.");
    }

    /// <summary>The same checks as PUT /api/v2.0/users/{id}/password for one's own account.</summary>
    public static async Task<IResult> ChangePasswordAsync(PortalPage page, IFormCollection form)
    {
        var caller = page.RequireUser();
        await page.Service<UserAccounts>().ChangePasswordAsync(caller, caller.User!, form["old_password"].ToString(), form["new_password"].ToString(), page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "update", "user", $"{caller.Name} password", null);

        // The generation went up, which ended this session too: sign in again with the new password.
        await page.Service<PortalSessions>().SignOutAsync(page.Context, page.Aborted).ConfigureAwait(false);
        return PortalPage.Back("/portal/login", "Password changed; sign in with the new one.");
    }
}
