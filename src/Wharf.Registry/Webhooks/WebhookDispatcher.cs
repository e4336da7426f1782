using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Registry.Projects;
using Wharf.Registry.Quotas;

namespace Wharf.Registry.Webhooks;

/// <summary>
/// Turns queued events into deliveries: finds the project's policies that want the event, builds each
/// target's payload, records the execution and its tasks (durable from then on) and gives the tasks to
/// the sender. A push also checks the project's usage against its limit for QUOTA_WARNING.
/// </summary>
public sealed partial class WebhookDispatcher(
    WebhookQueue queue, WebhookStore store, WebhookSender sender, IProjectStore projects, IProjectRepositories repositories,
    IProjectQuotas quotas, WebhookOptions options, ILogger<WebhookDispatcher> logger) : BackgroundService
{
    private int _sincePrune;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var e in queue.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await HandleAsync(e, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    LogFailed(logger, e.Type, e.Project, ex.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task HandleAsync(WebhookEvent e, CancellationToken ct)
    {
        var all = await store.EnabledPoliciesAsync(ct).ConfigureAwait(false);
        if (!all.TryGetValue(e.Project, out var policies))
        {
            return;
        }

        var project = await projects.FindByNameAsync(e.Project, ct).ConfigureAwait(false);
        if (project is null)
        {
            return;
        }

        await DeliverAsync(e, project, policies, ct).ConfigureAwait(false);
        if (e.Type == WebhookEventTypes.PushArtifact && policies.Any(p => p.Wants(WebhookEventTypes.QuotaWarning))
            && await QuotaWarningAsync(e, project, ct).ConfigureAwait(false) is { } warning)
        {
            await DeliverAsync(warning, project, policies, ct).ConfigureAwait(false);
        }
    }

    private async Task DeliverAsync(WebhookEvent e, Project project, IReadOnlyList<WebhookPolicy> policies, CancellationToken ct)
    {
        foreach (var policy in policies.Where(p => p.Wants(e.Type)))
        {
            var deliveries = policy.Targets.Select(t =>
            {
                var (contentType, body) = WebhookPayload.Build(e, t.PayloadFormat, project.Public, policy.Id, project.Id);
                return (t, contentType, body);
            }).ToList();
            foreach (var task in await store.EnqueueAsync(policy.Id, e.Type, deliveries, ct).ConfigureAwait(false))
            {
                sender.Submit(task);
            }

            if (++_sincePrune >= 100)
            {
                _sincePrune = 0;
                await store.PruneAsync(policy.Id, Math.Max(1, options.KeepExecutions), ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The warning event when the push left the project at or above the warning share of its limit.</summary>
    private async Task<WebhookEvent?> QuotaWarningAsync(WebhookEvent push, Project project, CancellationToken ct)
    {
        if (await quotas.GetLimitAsync(project.Name, ct).ConfigureAwait(false) is not { } limit || limit <= 0)
        {
            return null;
        }

        long used = await repositories.GetProjectUsageAsync(project.Name, ct).ConfigureAwait(false);
        if (used * 100 < limit * (long)options.QuotaWarningPercent)
        {
            return null;
        }

        string details = $"quota usage reached {used * 100 / limit}% of project {project.Name}: {QuotaSize.Format(used)} of {QuotaSize.Format(limit)}";
        return push with { Type = WebhookEventTypes.QuotaWarning, Details = details };
    }

    [LoggerMessage(EventId = 1602, Level = LogLevel.Warning, Message = "Webhook {Type} event of project {Project} not delivered: {Reason}")]
    private static partial void LogFailed(ILogger logger, string type, string project, string reason);
}
