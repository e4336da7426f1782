using Microsoft.AspNetCore.Http;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Portal;

/// <summary>
/// A project's policies on one page: tag retention (members read it, maintainers and project admins
/// change and run it), immutable tags and webhooks (project admins only, as in the API). Each section
/// asks its own service and shows nothing the caller could not read through the API.
/// </summary>
internal static class PolicyPages
{
    public static async Task<IResult> ShowAsync(PortalPage page)
    {
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        var retention = await RetentionPages.SectionAsync(page, project).ConfigureAwait(false);
        var immutable = await ImmutableTagPages.SectionAsync(page, project).ConfigureAwait(false);
        var webhooks = await WebhookPages.SectionAsync(page, project).ConfigureAwait(false);
        if (retention.Value.Length == 0 && immutable.Value.Length == 0 && webhooks.Value.Length == 0)
        {
            throw Management.ApiException.Forbidden($"{caller.Name} may not read the policies of {project.Name}");
        }

        string self = SelfOf(project);
        return page.Render($"Policies of {project.Name}", Html.Of($"""
            <p><a href="{self}">Back to project {project.Name}</a></p>
            {retention}
            {immutable}
            {webhooks}
            """));
    }

    public static string SelfOf(Project project) => $"/portal/projects/{Html.Segment(project.Name)}";

    public static string PoliciesOf(Project project) => SelfOf(project) + "/policies";

    /// <summary>A whole number from a route value, or 404.</summary>
    public static long RouteId(PortalPage page, string name) =>
        long.TryParse(page.Context.Request.RouteValues[name] as string, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long id)
            ? id
            : throw Management.ApiException.NotFound($"{name} not found");
}
