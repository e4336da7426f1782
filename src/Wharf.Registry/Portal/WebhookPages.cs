using Microsoft.AspNetCore.Http;
using Wharf.Registry.Management;
using Wharf.Registry.Projects;
using Wharf.Registry.Webhooks;
using ManagementApi = Wharf.Registry.Management.Api;

namespace Wharf.Registry.Portal;

/// <summary>
/// Webhook policies: list with their last deliveries, add, enable/disable, delete; project admins only
/// (<see cref="WebhookPolicies"/> decides, as for the API: the policies hold their targets' secrets,
/// which the page never shows).
/// </summary>
internal static class WebhookPages
{
    private const int LastDeliveries = 5;

    /// <summary>The section, or nothing for a caller who may not see the policies (or when webhooks are not configured).</summary>
    public static async Task<Markup> SectionAsync(PortalPage page, Project project)
    {
        if (page.Context.RequestServices.GetService(typeof(WebhookPolicies)) is not WebhookPolicies policies)
        {
            return Markup.Empty;
        }

        IReadOnlyList<WebhookPolicy> list;
        try
        {
            list = await policies.ListAsync(page.Caller, project, page.Aborted).ConfigureAwait(false);
        }
        catch (ApiException e) when (e.Status == StatusCodes.Status403Forbidden)
        {
            return Markup.Empty;
        }

        string self = PolicyPages.PoliciesOf(project) + "/webhooks";
        var store = page.Service<WebhookStore>();
        var rows = new List<Markup>();
        foreach (var p in list)
        {
            var (executions, _) = await store.ListExecutionsAsync(p.Id, 1, LastDeliveries, page.Aborted).ConfigureAwait(false);
            Markup deliveries = executions.Count == 0
                ? Html.Of($"none yet")
                : Html.Of($"<ul class=\"plain\">{Html.Join(executions.Select(e => Html.Of($"<li>{e.EventType}: {e.Status} {ProjectPages.When(e.StartTime)}</li>")))}</ul>");
            string toggle = p.Enabled ? "false" : "true";
            rows.Add(Html.Of($"""
                <tr><th scope="row">{p.Name}</th><td>{string.Join(", ", p.Targets.Select(t => t.Address))}</td><td>{string.Join(", ", p.EventTypes)}</td>
                <td>{(p.Enabled ? "enabled" : "disabled")}</td><td>{deliveries}</td>
                <td>{page.ButtonForm($"{self}/{p.Id}/enabled", p.Enabled ? $"Disable {p.Name}" : $"Enable {p.Name}", Html.Of($"<input type=\"hidden\" name=\"enabled\" value=\"{toggle}\">"))}
                {page.ButtonForm($"{self}/{p.Id}/delete", $"Delete {p.Name}", css: "danger")}</td></tr>
                """));
        }

        Markup table = list.Count == 0
            ? Html.Of($"<p>No webhooks.</p>")
            : Html.Of($"""
                <table><caption class="visually-hidden">Webhook policies of {project.Name}</caption>
                <thead><tr><th scope="col">Name</th><th scope="col">Address</th><th scope="col">Events</th><th scope="col">State</th><th scope="col">Last deliveries</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
                <tbody>{Html.Join(rows)}</tbody></table>
                """);
        var events = WebhookEventTypes.All.Select(t => Html.Of($"<label><input type=\"checkbox\" name=\"event_types\" value=\"{t}\"> {t}</label>"));
        return Html.Of($"""
            <section aria-labelledby="webhooks"><h2 id="webhooks">Webhooks</h2>
            {table}
            <h3>Add a webhook</h3>
            <form method="post" action="{self}" class="stack">
            {page.Antiforgery()}
            <label for="webhook_name">Name</label>
            <input id="webhook_name" name="name" required maxlength="256" autocomplete="off">
            <label for="webhook_address">Address (http or https URL)</label>
            <input id="webhook_address" name="address" type="url" required autocomplete="off">
            <label for="webhook_auth">Authorization header (optional)</label>
            <input id="webhook_auth" name="auth_header" autocomplete="off">
            <label for="webhook_format">Payload format</label>
            <select id="webhook_format" name="payload_format"><option value="Default">Default</option><option value="CloudEvents">CloudEvents</option></select>
            <fieldset><legend>Events</legend>{Html.Join(events)}</fieldset>
            <button type="submit">Add webhook</button>
            </form>
            </section>
            """);
    }

    /// <summary>As POST …/webhook/policies.</summary>
    public static async Task<IResult> AddAsync(PortalPage page, IFormCollection form)
    {
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        string auth = form.Field("auth_header");
        var request = new WebhookPolicyRequest(form.Field("name"), null,
            [new WebhookTargetRequest("http", form.Field("address"), auth.Length == 0 ? null : auth, false, form.Field("payload_format"))],
            [.. form["event_types"].Select(e => e ?? "")], true);
        var policy = await page.Service<WebhookPolicies>().CreateAsync(caller, project, request, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "create", "webhook_policy", $"{project.Name} webhook {policy.Name}", project.Name);
        return PortalPage.Back(PolicyPages.PoliciesOf(project) + "#webhooks", $"Webhook {policy.Name} added.");
    }

    /// <summary>As PUT …/webhook/policies/{id} with only <c>enabled</c> changed.</summary>
    public static async Task<IResult> SetEnabledAsync(PortalPage page, IFormCollection form)
    {
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        long id = PolicyPages.RouteId(page, "policy");
        var policies = page.Service<WebhookPolicies>();
        var existing = await policies.GetAsync(caller, project, id, page.Aborted).ConfigureAwait(false);
        bool enabled = form.Field("enabled") switch
        {
            "true" => true,
            "false" => false,
            _ => throw ApiException.BadRequest("enabled must be true or false"),
        };
        var request = new WebhookPolicyRequest(existing.Name, existing.Description,
            [.. existing.Targets.Select(t => new WebhookTargetRequest(t.Type, t.Address, t.AuthHeader, t.SkipCertVerify, t.PayloadFormat))],
            existing.EventTypes, enabled);
        var policy = await policies.UpdateAsync(caller, project, id, request, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "update", "webhook_policy", $"{project.Name} webhook {policy.Name}", project.Name);
        return PortalPage.Back(PolicyPages.PoliciesOf(project) + "#webhooks", $"Webhook {policy.Name} {(enabled ? "enabled" : "disabled")}.");
    }

    /// <summary>As DELETE …/webhook/policies/{id}.</summary>
    public static async Task<IResult> DeleteAsync(PortalPage page, IFormCollection form)
    {
        _ = form;
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        long id = PolicyPages.RouteId(page, "policy");
        await page.Service<WebhookPolicies>().DeleteAsync(caller, project, id, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "delete", "webhook_policy", $"{project.Name} webhook {id}", project.Name);
        return PortalPage.Back(PolicyPages.PoliciesOf(project) + "#webhooks", $"Webhook {id} deleted.");
    }
}
