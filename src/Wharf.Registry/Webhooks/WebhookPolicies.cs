using Wharf.Registry.Identity;
using Wharf.Registry.Management;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Webhooks;

/// <summary>A policy as a caller sends it (Harbor's WebhookPolicy; id, project_id, creator and times are ours to set).</summary>
public sealed record WebhookPolicyRequest(
    string? Name, string? Description, IReadOnlyList<WebhookTargetRequest>? Targets, IReadOnlyList<string>? EventTypes, bool? Enabled);

public sealed record WebhookTargetRequest(string? Type, string? Address, string? AuthHeader, bool? SkipCertVerify, string? PayloadFormat);

/// <summary>
/// Harbor's rules for webhook policies, for every front end: only project admins (and system admins)
/// see or change a project's policies and their delivery log; a policy names at least one http target
/// with an absolute http(s) address and at least one known event type; names are unique per project
/// (409). Everything is checked before anything is stored.
/// </summary>
public sealed class WebhookPolicies(ProjectMembership membership, WebhookStore store, WebhookTargetNetworks networks)
{
    public const int MaxNameLength = 256;
    public const int MaxTargets = 10;
    public const int MaxAuthHeaderLength = 4096;

    public async Task<IReadOnlyList<WebhookPolicy>> ListAsync(Caller caller, Project project, CancellationToken cancellationToken)
    {
        await RequireAdminAsync(caller, project, cancellationToken).ConfigureAwait(false);
        return await store.ListPoliciesAsync(project.Id, cancellationToken).ConfigureAwait(false);
    }

    public async Task<WebhookPolicy> GetAsync(Caller caller, Project project, long id, CancellationToken cancellationToken)
    {
        await RequireAdminAsync(caller, project, cancellationToken).ConfigureAwait(false);
        return await store.FindPolicyAsync(project.Id, id, cancellationToken).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"webhook policy {id} not found in {project.Name}");
    }

    public Task RequireAdminAsync(Caller caller, Project project, CancellationToken cancellationToken) =>
        membership.RequireProjectAdminAsync(caller, project, cancellationToken);

    public async Task<WebhookPolicy> CreateAsync(Caller caller, Project project, WebhookPolicyRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(project);
        await RequireAdminAsync(caller, project, cancellationToken).ConfigureAwait(false);
        var policy = Check(project, 0, caller.Name, request);
        RequireAllowedTargets(policy);
        return await store.CreatePolicyAsync(policy, cancellationToken).ConfigureAwait(false)
            ?? throw ApiException.Conflict($"{project.Name} already has a webhook policy named {policy.Name}");
    }

    public async Task<WebhookPolicy> UpdateAsync(Caller caller, Project project, long id, WebhookPolicyRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        var existing = await GetAsync(caller, project, id, cancellationToken).ConfigureAwait(false);
        var policy = Check(project, id, existing.Creator, request);
        RequireAllowedTargets(policy);
        return await store.UpdatePolicyAsync(policy, cancellationToken).ConfigureAwait(false) switch
        {
            true => policy with { CreatedAt = existing.CreatedAt },
            false => throw ApiException.NotFound($"webhook policy {id} not found in {project.Name}"),
            null => throw ApiException.Conflict($"{project.Name} already has a webhook policy named {policy.Name}"),
        };
    }

    public async Task DeleteAsync(Caller caller, Project project, long id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        await RequireAdminAsync(caller, project, cancellationToken).ConfigureAwait(false);
        if (!await store.DeletePolicyAsync(project.Id, id, cancellationToken).ConfigureAwait(false))
        {
            throw ApiException.NotFound($"webhook policy {id} not found in {project.Name}");
        }
    }

    /// <summary>A target written as an address outside the admins' allow-list is a 400 (a host name is checked when posting).</summary>
    private void RequireAllowedTargets(WebhookPolicy policy)
    {
        foreach (var target in policy.Targets)
        {
            if (networks.RefusalOf(new Uri(target.Address)) is { } refusal)
            {
                throw ApiException.BadRequest(refusal);
            }
        }
    }

    /// <summary>The request as a policy, or 400 naming the first thing wrong with it.</summary>
    public static WebhookPolicy Check(Project project, long id, string creator, WebhookPolicyRequest request)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(request);
        string name = request.Name?.Trim() ?? "";
        if (name.Length == 0 || name.Length > MaxNameLength || name.Any(char.IsControl))
        {
            throw ApiException.BadRequest($"name is required: 1 to {MaxNameLength} characters, no control characters");
        }

        if (request.Targets is not { Count: > 0 } targetRequests)
        {
            throw ApiException.BadRequest("targets must name at least one target");
        }

        if (targetRequests.Count > MaxTargets)
        {
            throw ApiException.BadRequest($"a policy has at most {MaxTargets} targets");
        }

        var targets = targetRequests.Select(CheckTarget).ToList();
        if (request.EventTypes is not { Count: > 0 } eventTypes)
        {
            throw ApiException.BadRequest($"event_types must name at least one of {string.Join(", ", WebhookEventTypes.All)}");
        }

        foreach (string type in eventTypes)
        {
            if (!WebhookEventTypes.IsSupported(type))
            {
                throw ApiException.BadRequest($"unknown event type \"{type}\": one of {string.Join(", ", WebhookEventTypes.All)}");
            }
        }

        return new WebhookPolicy(id, project.Id, name, request.Description, targets, eventTypes.Distinct().ToList(), request.Enabled ?? true, creator,
            default, default);
    }

    private static WebhookTarget CheckTarget(WebhookTargetRequest? target)
    {
        if (target is null)
        {
            throw ApiException.BadRequest("a target is null");
        }

        string type = string.IsNullOrEmpty(target.Type) ? "http" : target.Type;
        if (type != "http")
        {
            throw ApiException.BadRequest($"target type \"{type}\" is not supported: only http (wharfd does not post to Slack)");
        }

        if (!Uri.TryCreate(target.Address, UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https")
            || string.IsNullOrEmpty(address.Host) || !string.IsNullOrEmpty(address.UserInfo))
        {
            throw ApiException.BadRequest($"target address \"{target.Address}\" is not an absolute http or https URL without credentials");
        }

        string? authHeader = string.IsNullOrEmpty(target.AuthHeader) ? null : target.AuthHeader;
        if (authHeader is not null && (authHeader.Length > MaxAuthHeaderLength || authHeader.Any(c => c < ' ' || c > '~')))
        {
            throw ApiException.BadRequest($"auth_header must be printable ASCII of at most {MaxAuthHeaderLength} characters");
        }

        string format = string.IsNullOrEmpty(target.PayloadFormat) ? WebhookPayloadFormats.Default : target.PayloadFormat;
        if (format is not (WebhookPayloadFormats.Default or WebhookPayloadFormats.CloudEvents))
        {
            throw ApiException.BadRequest($"payload_format \"{format}\" is not supported: Default or CloudEvents");
        }

        return new WebhookTarget(type, target.Address!, authHeader, target.SkipCertVerify ?? false, format);
    }
}
