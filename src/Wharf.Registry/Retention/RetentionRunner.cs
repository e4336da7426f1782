using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Wharf.Oci;
using Wharf.Registry.Audit;
using Wharf.Registry.Gc;
using Wharf.Registry.Metadata;
using Wharf.Registry.Policies;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Retention;

/// <summary>
/// Runs a project's retention policy. Each repository that some enabled rule's repository selector
/// picks is one task: its candidates (top-level artifacts that are not referrers) are weighed by every
/// rule that applies; what any rule keeps stays, the rest goes — through
/// <see cref="ArtifactRules.DeleteArtifactUncheckedAsync"/>, the artifact API's own delete (an index
/// takes its untagged children with it), after the artifact's referrers. An artifact carrying an
/// immutable tag is kept and the log says which rule protects it; a kept artifact's referrers and an
/// index's children are kept with it. A dry run decides the same and deletes nothing. After a real run
/// that removed something, garbage collection runs and the execution records the bytes it freed, next
/// to the project usage the run released.
/// </summary>
public sealed partial class RetentionRunner(
    RetentionStore store, IRetentionCandidateStore candidates, IArtifactStore artifacts, ArtifactRules rules,
    IProjectStore projects, IImmutableTagRuleStore immutables, IMetadataStore metadata, GcJobs gc, IAuditLog audit,
    TimeProvider time, ILogger<RetentionRunner> logger) : IAsyncDisposable
{
    public const string Manual = "MANUAL";
    public const string Schedule = "SCHEDULE";

    /// <summary>Who a run's deletions are by, in the audit log and the DELETE_ARTIFACT webhooks.</summary>
    public const string Operator = "retention";

    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _runningLock = new();
    private readonly HashSet<Task> _running = [];

    /// <summary>The runs in progress by execution id, each with the source that stops it alone.</summary>
    private readonly Dictionary<long, CancellationTokenSource> _stops = [];
    private int _disposed;

    /// <summary>
    /// Awaited before each deletion of a real run (tests hold a run there to stop it at a known point).
    /// </summary>
    internal Func<RepositoryName, Digest, CancellationToken, Task>? BeforeDelete { get; set; }

    /// <summary>
    /// Starts a run in the background; its id, or null when the policy already has one going.
    /// <paramref name="host"/> is the registry's address as the caller used it ("" for the scheduler), for
    /// the DELETE_ARTIFACT webhooks of what the run removes.
    /// </summary>
    public async Task<long?> StartAsync(RetentionPolicy policy, string trigger, bool dryRun, string host, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        long? id = await store.CreateExecutionAsync(policy.Id, trigger, dryRun, cancellationToken).ConfigureAwait(false);
        if (id is not long executionId)
        {
            return null;
        }

        var stop = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        Task run;
        lock (_runningLock)
        {
            _stops[executionId] = stop;
            run = Task.Run(() => RunAsync(policy, executionId, dryRun, host, stop.Token), CancellationToken.None);
            _running.Add(run);
        }

        _ = run.ContinueWith(
            t =>
            {
                lock (_runningLock)
                {
                    _running.Remove(t);
                    _stops.Remove(executionId);
                }

                stop.Dispose();
            },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return executionId;
    }

    /// <summary>
    /// Asks a run in progress to stop (Harbor's <c>{"action":"stop"}</c>): it finishes the deletion under
    /// way, deletes nothing more and ends <c>Stopped</c>. False when the execution is not running here.
    /// </summary>
    public bool Stop(long executionId)
    {
        lock (_runningLock)
        {
            if (!_stops.TryGetValue(executionId, out var stop))
            {
                return false;
            }

            stop.Cancel();
            return true;
        }
    }

    /// <summary>Waits for the runs in progress (tests, shutdown).</summary>
    public Task IdleAsync()
    {
        lock (_runningLock)
        {
            return Task.WhenAll(_running);
        }
    }

    private async Task RunAsync(RetentionPolicy policy, long executionId, bool dryRun, string host, CancellationToken ct)
    {
        string status = RetentionStatus.Success;
        var tally = new Tally();
        long released = 0;
        long? gcRun = null, gcFreed = null;
        Project? project = null;
        long usageBefore = 0;
        try
        {
            project = await projects.FindByIdAsync(policy.ProjectId, ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"project {policy.ProjectId} no longer exists");
            usageBefore = await metadata.GetProjectUsageAsync(project.Name, ct).ConfigureAwait(false);
            var immutableRules = await immutables.ListImmutableTagRulesAsync(project.Id, ct).ConfigureAwait(false);
            foreach (string repository in await RepositoriesAsync(project.Name, ct).ConfigureAwait(false))
            {
                var applying = policy.Rules.Where(r => r.AppliesTo(repository)).ToList();
                if (applying.Count == 0)
                {
                    continue;
                }

                if (!await RunTaskAsync(executionId, RepositoryName.Parse(repository), policy.Rules, applying, immutableRules, dryRun, host, tally, ct).ConfigureAwait(false))
                {
                    status = RetentionStatus.Error;
                }
            }

            if (!dryRun && tally.Removed > 0)
            {
                released = Math.Max(0, usageBefore - await metadata.GetProjectUsageAsync(project.Name, ct).ConfigureAwait(false));
                var (gcId, report) = await gc.RunWithIdAsync(false, "Retention", ct).ConfigureAwait(false);
                gcRun = gcId;
                gcFreed = report?.BytesFreed;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // What went before the stop stays gone; the usage it released is still worth recording.
            // The blobs are freed by the next garbage collection.
            status = RetentionStatus.Stopped;
            if (!dryRun && tally.Removed > 0 && project is not null && !_stopping.IsCancellationRequested)
            {
                released = Math.Max(0, usageBefore - await metadata.GetProjectUsageAsync(project.Name, CancellationToken.None).ConfigureAwait(false));
            }
        }
        catch (Exception e)
        {
            Log.RunFailed(logger, executionId, e);
            status = RetentionStatus.Error;
        }

        await store.FinishExecutionAsync(executionId, status, tally.Removed, released, gcRun, gcFreed, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>What the run removed so far, kept across a stop.</summary>
    private sealed class Tally
    {
        public long Removed;
    }

    private async Task<List<string>> RepositoriesAsync(string project, CancellationToken ct)
    {
        var all = new List<string>();
        string? last = null;
        while (true)
        {
            var page = await metadata.ListProjectRepositoriesAsync(project, last, 1000, ct).ConfigureAwait(false);
            all.AddRange(page);
            if (page.Count < 1000)
            {
                return all;
            }

            last = page[^1];
        }
    }

    /// <summary>One repository's task; false when a deletion failed. A stop ends the task <c>Stopped</c> with its log so far.</summary>
    private async Task<bool> RunTaskAsync(
        long executionId, RepositoryName repository, IReadOnlyList<RetentionRule> allRules, List<RetentionRule> applying,
        IReadOnlyList<ImmutableTagRule> immutableRules, bool dryRun, string host, Tally tally, CancellationToken ct)
    {
        long taskId = await store.CreateTaskAsync(executionId, repository.Value, ct).ConfigureAwait(false);
        var log = new StringBuilder();
        var now = time.GetUtcNow();
        int removed = 0, retained = 0, total = 0;
        bool ok = true;
        try
        {
            var (list, referrers) = await candidates.ListRetentionCandidatesAsync(repository, ct).ConfigureAwait(false);
            total = list.Count;
            log.Append(CultureInfo.InvariantCulture, $"{(dryRun ? "dry run: " : "")}{repository}: {list.Count} artifacts weighed by {applying.Count} rule(s)\n");

            // Why each kept artifact stays: the first rule (in the policy's order) that keeps it.
            var keptBy = new Dictionary<Digest, string>();
            foreach (var rule in applying)
            {
                string why = rule.Describe(IndexOf(allRules, rule));
                foreach (var kept in rule.Keep(list, now))
                {
                    keptBy.TryAdd(kept.Digest, why);
                }
            }

            var referrersOf = referrers.ToLookup(r => r.Subject);
            foreach (var candidate in list.OrderByDescending(c => c.PushTime).ThenBy(c => c.Digest.ToString(), StringComparer.Ordinal))
            {
                ct.ThrowIfCancellationRequested();
                string tags = candidate.Tags.Count == 0 ? "untagged" : string.Join(",", candidate.Tags);
                if (keptBy.TryGetValue(candidate.Digest, out string? why))
                {
                    retained++;
                    log.Append(CultureInfo.InvariantCulture, $"retain {candidate.Digest} [{tags}]: {why}\n");
                    continue;
                }

                // Immutable tags are never removed: the artifact stays, and the log names the rule.
                var protectedTag = candidate.Tags.Select(t => (Tag: t, Rule: ImmutableTagRule.FirstProtecting(immutableRules, repository.Value, t)))
                    .FirstOrDefault(p => p.Rule is not null);
                if (protectedTag.Rule is { } immutableRule)
                {
                    retained++;
                    log.Append(CultureInfo.InvariantCulture, $"keep {candidate.Digest} [{tags}]: tag {protectedTag.Tag} is immutable (immutable rule {immutableRule.Id})\n");
                    continue;
                }

                var dependents = Dependents(candidate.Digest, referrersOf);
                if (dryRun)
                {
                    removed++;
                    log.Append(CultureInfo.InvariantCulture, $"would delete {candidate.Digest} [{tags}]: no rule retains it\n");
                    foreach (var d in dependents)
                    {
                        log.Append(CultureInfo.InvariantCulture, $"would delete {d.Digest} [{Tags(d.Tags)}]: referrer of {d.Subject}, which goes\n");
                    }

                    continue;
                }

                try
                {
                    // Referrers first (deepest first), so none is left pointing at nothing.
                    foreach (var d in Enumerable.Reverse(dependents))
                    {
                        if (await DeleteAsync(repository, d.Digest, host, ct).ConfigureAwait(false))
                        {
                            log.Append(CultureInfo.InvariantCulture, $"deleted {d.Digest} [{Tags(d.Tags)}]: referrer of {d.Subject}, which goes\n");
                        }
                    }

                    if (await DeleteAsync(repository, candidate.Digest, host, ct).ConfigureAwait(false))
                    {
                        removed++;
                        log.Append(CultureInfo.InvariantCulture, $"deleted {candidate.Digest} [{tags}]: no rule retains it\n");
                    }
                }
                catch (ImmutableTagException e)
                {
                    // A rule added while the run went: the store refused, the artifact stays.
                    retained++;
                    log.Append(CultureInfo.InvariantCulture, $"keep {candidate.Digest} [{tags}]: {e.Message}\n");
                }
                catch (ManifestReferencedException e)
                {
                    retained++;
                    log.Append(CultureInfo.InvariantCulture, $"keep {candidate.Digest} [{tags}]: {e.Message}\n");
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    ok = false;
                    log.Append(CultureInfo.InvariantCulture, $"error deleting {candidate.Digest} [{tags}]: {e.Message}\n");
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            tally.Removed += removed;
            log.Append(CultureInfo.InvariantCulture, $"stopped: {(dryRun ? "would remove" : "removed")} {removed}, retained {retained} of {total} before the stop; the rest was not weighed\n");
            await store.FinishTaskAsync(taskId, RetentionStatus.Stopped, total, retained, log.ToString(), CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        tally.Removed += removed;
        log.Append(CultureInfo.InvariantCulture, $"{(dryRun ? "would remove" : "removed")} {removed}, retained {retained} of {total}\n");
        await store.FinishTaskAsync(taskId, ok ? RetentionStatus.Success : RetentionStatus.Error, total, retained, log.ToString(), CancellationToken.None).ConfigureAwait(false);
        return ok;
    }

    private static string Tags(IReadOnlyList<string> tags) => tags.Count == 0 ? "untagged" : string.Join(",", tags);

    private static int IndexOf(IReadOnlyList<RetentionRule> rules, RetentionRule rule)
    {
        for (int i = 0; i < rules.Count; i++)
        {
            if (ReferenceEquals(rules[i], rule))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The referrers of an artifact, and theirs (a signature of an SBOM), breadth first.</summary>
    private static List<RetentionReferrer> Dependents(Digest subject, ILookup<Digest, RetentionReferrer> referrersOf)
    {
        var found = new List<RetentionReferrer>();
        var seen = new HashSet<Digest> { subject };
        var queue = new Queue<Digest>([subject]);
        while (queue.TryDequeue(out var next))
        {
            foreach (var r in referrersOf[next])
            {
                if (seen.Add(r.Digest))
                {
                    found.Add(r);
                    queue.Enqueue(r.Digest);
                }
            }
        }

        return found;
    }

    /// <summary>Deletes through the artifact API's service and audits it as the API would; false when it was already gone.</summary>
    private async Task<bool> DeleteAsync(RepositoryName repository, Digest digest, string host, CancellationToken ct)
    {
        if (BeforeDelete is { } hook)
        {
            await hook(repository, digest, ct).ConfigureAwait(false);
        }

        ct.ThrowIfCancellationRequested();
        if (await artifacts.GetArtifactAsync(repository, digest, ct).ConfigureAwait(false) is not { } artifact)
        {
            return false;
        }

        await rules.DeleteArtifactUncheckedAsync(repository, artifact, Operator, host, ct).ConfigureAwait(false);
        audit.Record(Operator, "delete", "artifact", $"{repository}@{digest}", repository.Project);
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await IdleAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stopping.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1701, Level = LogLevel.Warning, Message = "retention execution {Id} failed")]
        public static partial void RunFailed(ILogger logger, long id, Exception exception);
    }
}
