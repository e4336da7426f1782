using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Oci;
using Wharf.Registry.Api;
using Wharf.Registry.Metadata;

namespace Wharf.Registry.Replication;

/// <summary>
/// Hands pushes and deletes on /v2 to the event-based policies: the request only writes to a bounded
/// queue (never waits, never touches the database), the trigger service does the rest.
/// </summary>
public sealed class ReplicationRegistryEvents(IRegistryEvents inner, ReplicationTriggerService triggers) : IRegistryEvents
{
    public void Publish(HttpContext context, in RegistryEvent registryEvent)
    {
        inner.Publish(context, registryEvent);
        triggers.Offer(registryEvent);
    }
}

/// <summary>
/// Starts executions that are not an admin's: scheduled policies when their cron comes due (checked
/// every <see cref="ReplicationOptions.SchedulePollInterval"/> against the registry's clock), and
/// event-based push policies for a tag pushed or deleted in a repository their filters accept. A
/// scheduled policy whose previous run is still going skips that occurrence.
/// </summary>
public sealed partial class ReplicationTriggerService(
    ReplicationStore store, ReplicationRunner runner, ReplicationOptions options, TimeProvider time, ILogger<ReplicationTriggerService> logger,
    IMetadataStore metadata, IArtifactStore artifacts, Data.DatabaseLeases? leases = null) : BackgroundService
{
    private readonly Channel<RegistryEvent> _events = Channel.CreateBounded<RegistryEvent>(
        new BoundedChannelOptions(Math.Max(1, options.EventQueueLength)) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    private readonly CronOccurrences _schedule = new();

    public void Offer(in RegistryEvent registryEvent)
    {
        bool wanted = registryEvent.Kind switch
        {
            // By digest too: a referrer (signature, SBOM) pushed after its subject travels on its own event.
            RegistryEventKind.ManifestPushed => true,
            RegistryEventKind.TagDeleted or RegistryEventKind.ManifestDeleted => true,
            _ => false,
        };
        if (wanted && !_events.Writer.TryWrite(registryEvent))
        {
            Log.EventDropped(logger, registryEvent.Repository, registryEvent.Reference.ToString());
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await runner.RecoveredAsync().WaitAsync(stoppingToken).ConfigureAwait(false);
        await Task.WhenAll(ScheduleLoopAsync(stoppingToken), EventLoopAsync(stoppingToken)).ConfigureAwait(false);
    }

    private async Task ScheduleLoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.SchedulePollInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                try
                {
                    await RunDueAsync(ct).ConfigureAwait(false);
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    Log.TriggerFailed(logger, "schedule", e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task RunDueAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var policies = (await store.AllPoliciesAsync(ct).ConfigureAwait(false))
            .Where(p => p.Enabled && p.TriggerType == ReplicationTriggers.Scheduled).ToDictionary(p => p.Id);
        foreach (var (id, occurrence) in _schedule.Due(policies.Values.Select(p => (p.Id, p.Cron)), now))
        {
            // With several instances every one sees the occurrence come due; the one that claims it runs it.
            if ((leases is null || await leases.TryClaimOccurrenceAsync($"replication:{id}", occurrence, ct).ConfigureAwait(false))
                && !await store.PolicyHasRunningExecutionAsync(id, ct).ConfigureAwait(false))
            {
                await runner.StartAsync(policies[id], ReplicationTriggers.Scheduled, null, ct).ConfigureAwait(false);
            }

            _schedule.Advance(id, now);
        }
    }

    private async Task EventLoopAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var e in _events.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                try
                {
                    await HandleAsync(e, ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (!ct.IsCancellationRequested)
                {
                    Log.TriggerFailed(logger, $"event on {e.Repository}:{e.Reference}", ex.Message);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task HandleAsync(RegistryEvent e, CancellationToken ct)
    {
        if (e.Kind == RegistryEventKind.ManifestPushed && e.Reference.IsDigest)
        {
            await HandleReferrerAsync(e, ct).ConfigureAwait(false);
            return;
        }

        string repository = e.Repository.Value;
        bool isDigest = e.Reference.IsDigest;
        var policies = (await store.AllPoliciesAsync(ct).ConfigureAwait(false))
            .Where(p => p.Enabled && p.IsPush && p.TriggerType == ReplicationTriggers.EventBased && p.AcceptsRepository(repository)
                && (isDigest || p.AcceptsTag(e.Reference.ToString())));
        foreach (var policy in policies)
        {
            ReplicationItem? item = e.Kind switch
            {
                RegistryEventKind.ManifestPushed => new ReplicationItem(repository, e.Reference.ToString(), ReplicationItem.Copy),
                RegistryEventKind.TagDeleted or RegistryEventKind.ManifestDeleted when policy.Deletion => new ReplicationItem(repository, e.Reference.ToString(), ReplicationItem.Deletion),
                _ => null,
            };
            if (item is not null)
            {
                await runner.StartAsync(policy, ReplicationTriggers.EventBased, [item], ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// A manifest pushed by digest starts a run only when it is a referrer (it has a <c>subject</c>)
    /// whose subject is here: the run copies the subject by digest — already at the destination, so
    /// only skipped — and with it its referrers, the new one included. A policy with tag filters takes
    /// it only when one of the subject's tags passes them (the referrer follows an artifact the policy
    /// replicates). Other pushes by digest (an index's children) travel with their parent.
    /// </summary>
    private async Task HandleReferrerAsync(RegistryEvent e, CancellationToken ct)
    {
        string repository = e.Repository.Value;
        var policies = (await store.AllPoliciesAsync(ct).ConfigureAwait(false))
            .Where(p => p.Enabled && p.IsPush && p.TriggerType == ReplicationTriggers.EventBased && p.AcceptsRepository(repository)).ToList();
        if (policies.Count == 0)
        {
            return;
        }

        var manifest = await metadata.GetManifestAsync(e.Repository, e.Reference, ct).ConfigureAwait(false);
        if (manifest is null || ManifestParser.Parse(manifest.Content, manifest.MediaType).Subject is not { } subject)
        {
            return;
        }

        var artifact = await artifacts.GetArtifactAsync(e.Repository, subject.Digest, ct).ConfigureAwait(false);
        if (artifact is null)
        {
            return; // the subject is not here (yet): the referrer goes with it when it is pushed
        }

        foreach (var policy in policies)
        {
            bool tagFiltered = policy.Filters.Any(f => f.Type == "tag");
            if (tagFiltered && !artifact.Tags.Any(t => policy.AcceptsTag(t.Name)))
            {
                continue;
            }

            await runner.StartAsync(policy, ReplicationTriggers.EventBased,
                [new ReplicationItem(repository, subject.Digest.ToString(), ReplicationItem.Copy)], ct).ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1411, Level = LogLevel.Warning, Message = "Replication event queue full: {Repository}:{Reference} not replicated")]
        public static partial void EventDropped(ILogger logger, RepositoryName repository, string reference);

        [LoggerMessage(EventId = 1412, Level = LogLevel.Warning, Message = "Replication trigger ({What}) failed: {Reason}")]
        public static partial void TriggerFailed(ILogger logger, string what, string reason);
    }
}
