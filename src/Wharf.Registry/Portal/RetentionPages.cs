using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Wharf.Registry.Management;
using Wharf.Registry.Projects;
using Wharf.Registry.Retention;
using ManagementApi = Wharf.Registry.Management.Api;

namespace Wharf.Registry.Portal;

/// <summary>
/// A project's tag retention: its rules (add, edit, remove), schedule, runs (real or dry, stop) and their
/// history with each run's log. Every change is the whole policy sent to <see cref="RetentionPolicies"/>,
/// as PUT /retentions/{id} does, so the same checks apply; members read, maintainers and project admins change.
/// </summary>
internal static class RetentionPages
{
    private const int History = 10;

    /// <summary>The section, or nothing for a caller who may not read the policy.</summary>
    public static async Task<Markup> SectionAsync(PortalPage page, Project project)
    {
        var policies = page.Service<RetentionPolicies>();
        try
        {
            await policies.RequireReadAsync(page.Caller, project, page.Aborted).ConfigureAwait(false);
        }
        catch (ApiException e) when (e.Status == StatusCodes.Status403Forbidden)
        {
            return Markup.Empty;
        }

        bool canManage = await MayManageAsync(page, project).ConfigureAwait(false);
        var policy = await PolicyOfAsync(page, project).ConfigureAwait(false);
        string self = PolicyPages.PoliciesOf(project) + "/retention";
        var rules = policy?.Rules ?? [];
        var rows = rules.Select((r, i) => Html.Of($"""
            <tr><th scope="row">{i + 1}</th><td>{Describe(r)}</td><td>{(r.Disabled ? "disabled" : "enabled")}</td>
            <td>{(canManage ? Html.Of($"<details><summary>Edit rule {i + 1}</summary>{RuleForm(page, $"{self}/rules/{i}", $"rule{i}", r, "Save rule")}</details>{page.ButtonForm($"{self}/rules/{i}/delete", $"Remove rule {i + 1}", css: "danger")}") : Markup.Empty)}</td></tr>
            """));
        Markup table = rules.Count == 0
            ? Html.Of($"<p>No retention rules: nothing is removed.</p>")
            : Html.Of($"""
                <p class="hint">An artifact that any rule keeps stays; a run removes the others of the repositories the rules cover.</p>
                <table><caption class="visually-hidden">Retention rules of {project.Name}</caption>
                <thead><tr><th scope="col">Rule</th><th scope="col">Keeps</th><th scope="col">State</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
                <tbody>{Html.Join(rows)}</tbody></table>
                """);
        Markup manage = canManage
            ? Html.Of($"""
                <h3>Add a rule</h3>
                {RuleForm(page, $"{self}/rules", "new", null, "Add retention rule")}
                <h3>Schedule</h3>
                <form method="post" action="{self}/schedule" class="row">
                {page.Antiforgery()}
                <label for="retention_cron">Cron (empty: on demand only)</label>
                <input id="retention_cron" name="cron" value="{policy?.Cron ?? ""}" placeholder="0 0 3 * * *" autocomplete="off">
                <button type="submit">Save schedule</button>
                </form>
                {(policy is null ? Markup.Empty : Html.Of($"<h3>Run</h3><p>{page.ButtonForm($"{self}/run", "Dry run", Html.Of($"<input type=\"hidden\" name=\"dry_run\" value=\"true\">"))} {page.ButtonForm($"{self}/run", "Run now", Html.Of($"<input type=\"hidden\" name=\"dry_run\" value=\"false\">"), css: "danger")}</p>"))}
                """)
            : Markup.Empty;
        Markup history = policy is null ? Markup.Empty : await HistoryAsync(page, project, policy, canManage).ConfigureAwait(false);
        return Html.Of($"""
            <section aria-labelledby="retention"><h2 id="retention">Tag retention</h2>
            <dl class="facts"><dt>Schedule</dt><dd>{(policy?.Cron is { } cron ? cron : "on demand only")}</dd></dl>
            {table}
            {manage}
            {history}
            </section>
            """);
    }

    private static async Task<Markup> HistoryAsync(PortalPage page, Project project, RetentionPolicy policy, bool canManage)
    {
        var (executions, _) = await page.Service<RetentionStore>().ListExecutionsAsync(policy.Id, 1, History, page.Aborted).ConfigureAwait(false);
        if (executions.Count == 0)
        {
            return Html.Of($"<h3>History</h3><p>No runs yet.</p>");
        }

        string self = PolicyPages.PoliciesOf(project) + "/retention/executions";
        var rows = executions.Select(e => Html.Of($"""
            <tr><th scope="row"><a href="{self}/{e.Id}">Run {e.Id}</a></th><td>{ProjectPages.When(e.StartTime)}</td><td>{e.Trigger}{(e.DryRun ? " (dry run)" : "")}</td>
            <td>{e.Status}</td><td class="num">{e.Removed}</td><td class="num">{ProjectPages.Size(e.ReleasedBytes)}</td>
            <td>{(canManage && e.Status == RetentionStatus.Running ? page.ButtonForm($"{self}/{e.Id}/stop", $"Stop run {e.Id}", css: "danger") : Markup.Empty)}</td></tr>
            """));
        return Html.Of($"""
            <h3>History</h3>
            <table><caption class="visually-hidden">Retention runs of {project.Name}</caption>
            <thead><tr><th scope="col">Run</th><th scope="col">Started</th><th scope="col">Trigger</th><th scope="col">Status</th><th scope="col">Removed</th><th scope="col">Released</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
            <tbody>{Html.Join(rows)}</tbody></table>
            """);
    }

    /// <summary>One run: its tasks and each task's log (what was kept and why, what went).</summary>
    public static async Task<IResult> ExecutionAsync(PortalPage page)
    {
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        await page.Service<RetentionPolicies>().RequireReadAsync(caller, project, page.Aborted).ConfigureAwait(false);
        var policy = await PolicyOfAsync(page, project).ConfigureAwait(false) ?? throw ApiException.NotFound($"{project.Name} has no retention policy");
        long id = PolicyPages.RouteId(page, "execution");
        var store = page.Service<RetentionStore>();
        var execution = await store.FindExecutionAsync(policy.Id, id, page.Aborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"retention run {id} not found in {project.Name}");
        var (tasks, _) = await store.ListTasksAsync(execution.Id, 1, 1000, page.Aborted).ConfigureAwait(false);
        var sections = new List<Markup>();
        foreach (var task in tasks)
        {
            string log = await store.TaskLogAsync(execution.Id, task.Id, page.Aborted).ConfigureAwait(false) ?? "";
            sections.Add(Html.Of($"<h2>{task.Repository}</h2><p>{task.Status}: {task.Retained} of {task.Total} kept</p><pre>{log}</pre>"));
        }

        return page.Render($"Retention run {execution.Id} of {project.Name}", Html.Of($"""
            <p><a href="{PolicyPages.PoliciesOf(project)}#retention">Back to the policies of {project.Name}</a></p>
            <dl class="facts"><dt>Status</dt><dd>{execution.Status}</dd><dt>Trigger</dt><dd>{execution.Trigger}{(execution.DryRun ? " (dry run)" : "")}</dd>
            <dt>Removed</dt><dd>{execution.Removed}</dd><dt>Released</dt><dd>{ProjectPages.Size(execution.ReleasedBytes)}</dd></dl>
            {(sections.Count == 0 ? Html.Of($"<p>No repository weighed.</p>") : Html.Join(sections))}
            """));
    }

    /// <summary>Adds a rule (creating the project's policy when it has none).</summary>
    public static async Task<IResult> AddRuleAsync(PortalPage page, IFormCollection form)
    {
        var (caller, project, policy) = await ManagedAsync(page).ConfigureAwait(false);
        var rules = (policy?.Rules ?? []).Select(ToRequest).Append(RuleOf(form)).ToList();
        await SaveAsync(page, caller, project, policy, rules, policy?.Cron).ConfigureAwait(false);
        return PortalPage.Back(PolicyPages.PoliciesOf(project) + "#retention", $"Retention rule {rules.Count} added.");
    }

    public static async Task<IResult> UpdateRuleAsync(PortalPage page, IFormCollection form)
    {
        var (caller, project, policy) = await ManagedAsync(page).ConfigureAwait(false);
        int index = RuleIndex(page, policy);
        var rules = policy!.Rules.Select(ToRequest).ToList();
        rules[index] = RuleOf(form);
        await SaveAsync(page, caller, project, policy, rules, policy.Cron).ConfigureAwait(false);
        return PortalPage.Back(PolicyPages.PoliciesOf(project) + "#retention", $"Retention rule {index + 1} saved.");
    }

    public static async Task<IResult> RemoveRuleAsync(PortalPage page, IFormCollection form)
    {
        _ = form;
        var (caller, project, policy) = await ManagedAsync(page).ConfigureAwait(false);
        int index = RuleIndex(page, policy);
        var rules = policy!.Rules.Select(ToRequest).ToList();
        rules.RemoveAt(index);
        await SaveAsync(page, caller, project, policy, rules, policy.Cron).ConfigureAwait(false);
        return PortalPage.Back(PolicyPages.PoliciesOf(project) + "#retention", $"Retention rule {index + 1} removed.");
    }

    public static async Task<IResult> ScheduleAsync(PortalPage page, IFormCollection form)
    {
        var (caller, project, policy) = await ManagedAsync(page).ConfigureAwait(false);
        await SaveAsync(page, caller, project, policy, [.. (policy?.Rules ?? []).Select(ToRequest)], form.Field("cron")).ConfigureAwait(false);
        return PortalPage.Back(PolicyPages.PoliciesOf(project) + "#retention", "Retention schedule saved.");
    }

    /// <summary>As POST /retentions/{id}/executions.</summary>
    public static async Task<IResult> RunAsync(PortalPage page, IFormCollection form)
    {
        var (caller, project, policy) = await ManagedAsync(page).ConfigureAwait(false);
        if (policy is null)
        {
            throw ApiException.NotFound($"{project.Name} has no retention policy");
        }

        bool dryRun = form.Field("dry_run") == "true";
        long id = await page.Service<RetentionRunner>().StartAsync(policy, RetentionRunner.Manual, dryRun, page.Context.Request.Host.Value ?? "", page.Aborted).ConfigureAwait(false)
            ?? throw ApiException.Conflict($"retention policy {policy.Id} is already running");
        ManagementApi.Audit(page.Context, caller, "create", "retention_execution", $"{project.Name} retention {policy.Id} execution {id}{(dryRun ? " (dry run)" : "")}", project.Name);
        return PortalPage.Back(PolicyPages.PoliciesOf(project) + "#retention", $"Retention {(dryRun ? "dry run" : "run")} {id} started.");
    }

    /// <summary>As PATCH /retentions/{id}/executions/{eid} {"action":"stop"}.</summary>
    public static async Task<IResult> StopAsync(PortalPage page, IFormCollection form)
    {
        _ = form;
        var (caller, project, policy) = await ManagedAsync(page).ConfigureAwait(false);
        long id = PolicyPages.RouteId(page, "execution");
        var execution = (policy is null ? null : await page.Service<RetentionStore>().FindExecutionAsync(policy.Id, id, page.Aborted).ConfigureAwait(false))
            ?? throw ApiException.NotFound($"retention run {id} not found in {project.Name}");
        bool stopped = execution.Status == RetentionStatus.Running && page.Service<RetentionRunner>().Stop(execution.Id);
        if (stopped)
        {
            ManagementApi.Audit(page.Context, caller, "update", "retention_execution", $"{project.Name} retention {policy!.Id} execution {id} stopped", project.Name);
        }

        return PortalPage.Back(PolicyPages.PoliciesOf(project) + "#retention", stopped ? $"Retention run {id} is stopping." : $"Retention run {id} was not running.");
    }

    private static async Task<bool> MayManageAsync(PortalPage page, Project project)
    {
        try
        {
            await page.Service<RetentionPolicies>().RequireManageAsync(page.Caller, project, page.Aborted).ConfigureAwait(false);
            return true;
        }
        catch (ApiException e) when (e.Status == StatusCodes.Status403Forbidden)
        {
            return false;
        }
    }

    private static async Task<RetentionPolicy?> PolicyOfAsync(PortalPage page, Project project)
    {
        var store = page.Service<RetentionStore>();
        return await store.PolicyIdOfProjectAsync(project.Id, page.Aborted).ConfigureAwait(false) is long id
            ? await store.FindPolicyAsync(id, page.Aborted).ConfigureAwait(false)
            : null;
    }

    private static async Task<(Identity.Caller Caller, Project Project, RetentionPolicy? Policy)> ManagedAsync(PortalPage page)
    {
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        await page.Service<RetentionPolicies>().RequireManageAsync(caller, project, page.Aborted).ConfigureAwait(false);
        return (caller, project, await PolicyOfAsync(page, project).ConfigureAwait(false));
    }

    private static int RuleIndex(PortalPage page, RetentionPolicy? policy) =>
        int.TryParse(page.Context.Request.RouteValues["rule"] as string, NumberStyles.None, CultureInfo.InvariantCulture, out int index) && policy is not null && index < policy.Rules.Count
            ? index
            : throw ApiException.NotFound("retention rule not found");

    /// <summary>The whole policy through the service, as the API's POST or PUT.</summary>
    private static async Task SaveAsync(PortalPage page, Identity.Caller caller, Project project, RetentionPolicy? existing, List<RetentionRuleRequest> rules, string? cron)
    {
        using var cronJson = JsonDocument.Parse(JsonSerializer.Serialize(cron ?? "", PortalJson.Default.String));
        var request = new RetentionPolicyRequest("or", rules,
            new RetentionTriggerRequest("Schedule", new Dictionary<string, JsonElement> { ["cron"] = cronJson.RootElement.Clone() }),
            new RetentionScopeRequest("project", project.Id));
        var policies = page.Service<RetentionPolicies>();
        if (existing is null)
        {
            var created = await policies.CreateAsync(caller, project, request, page.Aborted).ConfigureAwait(false);
            ManagementApi.Audit(page.Context, caller, "create", "retention", $"{project.Name} retention {created.Id}", project.Name);
        }
        else
        {
            await policies.UpdateAsync(caller, project, existing, request, page.Aborted).ConfigureAwait(false);
            ManagementApi.Audit(page.Context, caller, "update", "retention", $"{project.Name} retention {existing.Id}", project.Name);
        }
    }

    /// <summary>A rule from the form's fields; the service checks it like any other.</summary>
    private static RetentionRuleRequest RuleOf(IFormCollection form)
    {
        string template = form.Field("template");
        var parameters = new Dictionary<string, JsonElement>();
        if (RetentionTemplates.All.TryGetValue(template, out var known) && known.Unit is not null)
        {
            if (!int.TryParse(form.Field("count"), NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            {
                throw ApiException.BadRequest($"the {known.Unit} of \"{known.Display}\" must be a whole number from 0");
            }

            parameters[template] = Number(n);
        }

        return new RetentionRuleRequest(null, 0, form.Field("disabled") == "true", "retain", template, parameters,
            [new RetentionSelectorRequest("doublestar", form.Field("tag_decoration") == "excludes" ? "excludes" : "matches", form.Field("tag_pattern"),
                form.Field("untagged") == "true" ? "{\"untagged\":true}" : "{\"untagged\":false}")],
            new Dictionary<string, IReadOnlyList<RetentionSelectorRequest>>
            {
                ["repository"] = [new RetentionSelectorRequest("doublestar", form.Field("repository_decoration") == "repoExcludes" ? "repoExcludes" : "repoMatches", form.Field("repository_pattern"), null)],
            });
    }

    /// <summary>A stored rule as the request that would store it again.</summary>
    private static RetentionRuleRequest ToRequest(RetentionRule r) => new(
        null, r.Priority, r.Disabled, "retain", r.Template,
        r.Parameter is int n ? new Dictionary<string, JsonElement> { [r.Template] = Number(n) } : [],
        [new RetentionSelectorRequest("doublestar", r.TagExcludes ? "excludes" : "matches", r.TagPattern, r.Untagged ? "{\"untagged\":true}" : "{\"untagged\":false}")],
        new Dictionary<string, IReadOnlyList<RetentionSelectorRequest>>
        {
            ["repository"] = [new RetentionSelectorRequest("doublestar", r.RepositoryExcludes ? "repoExcludes" : "repoMatches", r.RepositoryPattern, null)],
        });

    private static JsonElement Number(int n)
    {
        using var doc = JsonDocument.Parse(n.ToString(CultureInfo.InvariantCulture));
        return doc.RootElement.Clone();
    }

    /// <summary>"the most recently pushed 5 artifacts, tags matching v*, untagged included, in repositories matching **".</summary>
    private static string Describe(RetentionRule r)
    {
        var text = new StringBuilder(RetentionTemplates.All.TryGetValue(r.Template, out var t) ? t.Display.Replace("#", r.Parameter?.ToString(CultureInfo.InvariantCulture) ?? "", StringComparison.Ordinal) : r.Template);
        text.Append(CultureInfo.InvariantCulture, $", tags {(r.TagExcludes ? "excluding" : "matching")} {r.TagPattern}, untagged {(r.Untagged ? "included" : "excluded")}");
        text.Append(CultureInfo.InvariantCulture, $", in repositories {(r.RepositoryExcludes ? "excluding" : "matching")} {r.RepositoryPattern}");
        return text.ToString();
    }

    /// <summary>The add or edit form of a rule; ids carry <paramref name="key"/> so several forms on one page keep their labels apart.</summary>
    private static Markup RuleForm(PortalPage page, string action, string key, RetentionRule? rule, string submit)
    {
        var templates = RetentionTemplates.All.Select(t => Html.Of(
            $"<option value=\"{t.Key}\"{(rule?.Template == t.Key ? new Markup(" selected") : Markup.Empty)}>{t.Value.Display.Replace("#", "N", StringComparison.Ordinal)}</option>"));
        Markup Selected(bool on) => on ? new Markup(" selected") : Markup.Empty;
        Markup Checked(bool on) => on ? new Markup(" checked") : Markup.Empty;
        return Html.Of($"""
            <form method="post" action="{action}" class="stack">
            {page.Antiforgery()}
            <label for="template-{key}">Keep</label>
            <select id="template-{key}" name="template">{Html.Join(templates)}</select>
            <label for="count-{key}">N (artifacts or days)</label>
            <input id="count-{key}" name="count" inputmode="numeric" pattern="[0-9]*" value="{rule?.Parameter?.ToString(CultureInfo.InvariantCulture) ?? ""}">
            <label for="tagdec-{key}">Tags</label>
            <select id="tagdec-{key}" name="tag_decoration"><option value="matches">matching</option><option value="excludes"{Selected(rule?.TagExcludes == true)}>excluding</option></select>
            <label for="tag-{key}">Tag pattern</label>
            <input id="tag-{key}" name="tag_pattern" required value="{rule?.TagPattern ?? "**"}" autocomplete="off">
            <label><input type="checkbox" name="untagged" value="true"{Checked(rule?.Untagged ?? true)}> Untagged artifacts too</label>
            <label for="repodec-{key}">Repositories</label>
            <select id="repodec-{key}" name="repository_decoration"><option value="repoMatches">matching</option><option value="repoExcludes"{Selected(rule?.RepositoryExcludes == true)}>excluding</option></select>
            <label for="repo-{key}">Repository pattern</label>
            <input id="repo-{key}" name="repository_pattern" required value="{rule?.RepositoryPattern ?? "**"}" autocomplete="off">
            <label><input type="checkbox" name="disabled" value="true"{Checked(rule?.Disabled == true)}> Disabled</label>
            <button type="submit">{submit}</button>
            </form>
            """);
    }
}

/// <summary>The one value the portal serialises itself (a string as JSON), source-generated.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class PortalJson : System.Text.Json.Serialization.JsonSerializerContext;
