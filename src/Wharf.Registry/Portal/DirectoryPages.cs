using Microsoft.AspNetCore.Http;
using Wharf.Registry.Identity;
using Wharf.Registry.Identity.Ldap;

namespace Wharf.Registry.Portal;

/// <summary>
/// The directory settings in force, for system admins, and Harbor's "test LDAP server" on them: the same
/// check as POST /api/v2.0/ldap/ping and the start-time check (reach the server, bind as the service
/// account, find one person through the filter). Settings are changed with PUT /api/v2.0/configurations.
/// </summary>
internal static class DirectoryPages
{
    public static async Task<IResult> ShowAsync(PortalPage page) =>
        page.Render("Directory login", await SettingsAsync(page).ConfigureAwait(false));

    private static async Task<Markup> SettingsAsync(PortalPage page)
    {
        UserAccounts.RequireSysAdmin(page.RequireUser());
        var settings = await page.Service<AuthConfiguration>().GetAsync(page.Aborted).ConfigureAwait(false);
        string rule = settings.GroupProjectRole > 0
            ? $"a group's members get role {settings.GroupProjectRole} in the project named like its {settings.GroupAttributeName} in lower case"
            : "off";
        return Html.Of($"""
            <dl class="facts">
            <dt>Mode</dt><dd>{(settings.IsLdap ? "directory (ldap_auth)" : "local accounts (db_auth)")}</dd>
            <dt>Server</dt><dd><code>{settings.Url ?? "—"}</code>{(settings.StartTls ? " with StartTLS" : "")}</dd>
            <dt>People under</dt><dd><code>{settings.BaseDn ?? "—"}</code></dd>
            <dt>Filter</dt><dd><code>{settings.Filter ?? "—"}</code></dd>
            <dt>Groups under</dt><dd><code>{settings.GroupBaseDn ?? settings.BaseDn ?? "—"}</code></dd>
            <dt>Naming rule</dt><dd>{rule}</dd>
            </dl>
            <p class="hint">Change these with <code>PUT /api/v2.0/configurations</code> (see the documentation of directory login).</p>
            <form method="post" action="/portal/admin/directory" class="row">
            {page.Antiforgery()}
            <button type="submit">Test the directory settings</button>
            </form>
            """);
    }

    /// <summary>Runs the check and shows its outcome on the page (200 either way: a failed test is an answer, not an error of the form).</summary>
    public static async Task<IResult> TestAsync(PortalPage page, IFormCollection form)
    {
        UserAccounts.RequireSysAdmin(page.RequireUser());
        var settings = await page.Service<AuthConfiguration>().GetAsync(page.Aborted).ConfigureAwait(false);
        string? problem;
        try
        {
            problem = settings.Url is null
                ? "no directory is configured (ldap_url is empty)"
                : await page.Service<LdapDirectory>().PingAsync(settings, page.Aborted).ConfigureAwait(false);
        }
        catch (DirectoryUnavailableException e)
        {
            problem = e.Message;
        }

        Markup outcome = problem is null
            ? Html.Of($"<p class=\"flash\" role=\"status\" id=\"directory-test\">The directory answered: the service account binds and the filter finds people.</p>")
            : Html.Of($"<p class=\"error\" role=\"alert\" id=\"directory-test\">The directory test failed: {problem}</p>");
        var current = await SettingsAsync(page).ConfigureAwait(false);
        return page.Render("Directory login", Html.Of($"{outcome}{current}"));
    }
}
