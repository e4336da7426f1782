using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Wharf.Content;
using Wharf.Oci;
using Wharf.Registry.Proxy;

namespace Wharf.Registry.Replication;

/// <summary>One artifact an execution works on: a tag (or digest) to copy, or to delete on the destination.</summary>
public sealed record ReplicationItem(string Repository, string Reference, string Operation)
{
    public const string Copy = "copy";
    public const string Deletion = "deletion";
}

/// <summary>
/// Runs executions: lists what the policy selects on the source (or takes the items an event named),
/// records a task per artifact and copies each with the copy engine, children before parents and
/// referrers after their subject, so the destination never holds a manifest whose content is missing.
/// Blobs and manifests the destination has are skipped, which is what makes a new run after a failure
/// or a stop resume. Tasks of all executions share <see cref="ReplicationOptions.MaxConcurrentTasks"/>.
/// </summary>
public sealed partial class ReplicationRunner : IDisposable
{
    private readonly ReplicationStore _store;
    private readonly IUpstreamRegistryStore _registries;
    private readonly UpstreamClients _clients;
    private readonly LocalReplicationEndpoint _local;
    private readonly ReplicationOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ReplicationRunner> _logger;
    private readonly SemaphoreSlim _taskSlots;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly ConcurrentDictionary<long, CancellationTokenSource> _stops = new();
    private readonly ConcurrentDictionary<long, Task> _runs = new();
    private readonly Lazy<Task> _recovered;
    private readonly IReadOnlyList<IReplicationListener> _listeners;
    private readonly Labels.LabelStore? _labels;

    public ReplicationRunner(
        ReplicationStore store, IUpstreamRegistryStore registries, UpstreamClients clients, LocalReplicationEndpoint local,
        ReplicationOptions options, TimeProvider time, ILogger<ReplicationRunner> logger, IEnumerable<IReplicationListener>? listeners = null,
        Labels.LabelStore? labels = null)
    {
        _labels = labels;
        _listeners = listeners?.ToList() ?? [];
        _store = store;
        _registries = registries;
        _clients = clients;
        _local = local;
        _options = options;
        _time = time;
        _logger = logger;
        _taskSlots = new SemaphoreSlim(Math.Max(1, options.MaxConcurrentTasks));
        _recovered = new Lazy<Task>(RecoverAsync);
    }

    /// <summary>Executions of an earlier process left running are failed before this one starts any.</summary>
    public Task RecoveredAsync() => _recovered.Value;

    /// <summary>Records an execution and runs it in the background; returns its id at once.</summary>
    public async Task<long> StartAsync(ReplicationPolicy policy, string trigger, IReadOnlyList<ReplicationItem>? items, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        await RecoveredAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        long id = await _store.CreateExecutionAsync(policy.Id, trigger, cancellationToken).ConfigureAwait(false);
        var stop = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
        _stops[id] = stop;
        var run = Task.Run(() => RunAsync(id, policy, items, stop.Token));
        _runs[id] = run;
        _ = run.ContinueWith(_ => _runs.TryRemove(id, out Task? _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        Log.Started(_logger, id, policy.Name, trigger);
        return id;
    }

    /// <summary>Stops a running execution (Harbor's PUT /executions/{id}); false when it is not running here.</summary>
    public bool Stop(long executionId)
    {
        if (!_stops.TryGetValue(executionId, out var stop))
        {
            return false;
        }

        try
        {
            stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            return false; // finished meanwhile
        }

        return true;
    }

    /// <summary>Until every execution started so far has finished (tests, shutdown).</summary>
    public Task WhenIdleAsync() => Task.WhenAll(_runs.Values);

    public void Dispose()
    {
        _shutdown.Cancel();
        try
        {
            Task.WhenAll(_runs.Values).Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
        }

        _shutdown.Dispose();
        _taskSlots.Dispose();
    }

    private async Task RecoverAsync()
    {
        try
        {
            int failed = await _store.FailInterruptedAsync(CancellationToken.None).ConfigureAwait(false);
            if (failed > 0)
            {
                Log.Interrupted(_logger, failed);
            }
        }
        catch (Exception e) when (e is System.Data.Common.DbException or IOException)
        {
            // Not fatal: new runs still work; the stale ones keep saying Running until a later start.
            Log.RecoveryFailed(_logger, e.Message);
        }
    }

    private async Task RunAsync(long id, ReplicationPolicy policy, IReadOnlyList<ReplicationItem>? items, CancellationToken ct)
    {
        string status;
        string? text = null;
        try
        {
            var (source, destination) = await EndpointsAsync(policy, ct).ConfigureAwait(false);
            items ??= await SelectAsync(policy, source, _labels, ct).ConfigureAwait(false);
            var work = new List<Task<string>>();
            foreach (var item in items)
            {
                string target = $"{policy.DestinationRepository(item.Repository)}:{item.Reference}";
                long taskId = await _store.CreateTaskAsync(id, $"{item.Repository}:{item.Reference}", target, item.Operation, ct).ConfigureAwait(false);
                work.Add(RunTaskAsync(taskId, item, policy, source, destination, ct));
            }

            string[] outcomes = await Task.WhenAll(work).ConfigureAwait(false);
            status = ct.IsCancellationRequested || outcomes.Contains(ReplicationStatus.Stopped) ? ReplicationStatus.Stopped
                : outcomes.Contains(ReplicationStatus.Failed) ? ReplicationStatus.Failed
                : ReplicationStatus.Succeed;
            if (status == ReplicationStatus.Failed)
            {
                text = $"{outcomes.Count(o => o == ReplicationStatus.Failed)} of {outcomes.Length} tasks failed";
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            status = ReplicationStatus.Stopped;
        }
        catch (Exception e)
        {
            status = ReplicationStatus.Failed;
            text = e.Message;
        }

        if (_shutdown.IsCancellationRequested)
        {
            // wharfd stopping is not an admin's stop: the run is failed, as one cut off by a crash is at the next start.
            status = ReplicationStatus.Failed;
            text = "interrupted: wharfd stopped during the execution";
        }

        try
        {
            await _store.FinishExecutionAsync(id, status, text, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            if (_stops.TryRemove(id, out var stop))
            {
                stop.Dispose();
            }

            Log.Finished(_logger, id, policy.Name, status, text ?? string.Empty);
        }

        await NotifyAsync(id, policy).ConfigureAwait(false);
    }

    /// <summary>Tells the listeners (webhooks) of a finished execution; their failure is logged, never the run's.</summary>
    private async Task NotifyAsync(long id, ReplicationPolicy policy)
    {
        if (_listeners.Count == 0)
        {
            return;
        }

        try
        {
            var execution = await _store.FindExecutionAsync(id, CancellationToken.None).ConfigureAwait(false);
            var tasks = await _store.ListTasksAsync(id, CancellationToken.None).ConfigureAwait(false);
            if (execution is not null)
            {
                foreach (var listener in _listeners)
                {
                    listener.ExecutionFinished(policy, execution, tasks);
                }
            }
        }
        catch (Exception e) when (e is System.Data.Common.DbException or IOException or InvalidOperationException)
        {
            Log.ListenersFailed(_logger, id, e.Message);
        }
    }

    private async Task<(IReplicationEndpoint Source, IReplicationEndpoint Destination)> EndpointsAsync(ReplicationPolicy policy, CancellationToken ct) =>
        (await EndpointAsync(policy.SourceRegistryId, ct).ConfigureAwait(false), await EndpointAsync(policy.DestinationRegistryId, ct).ConfigureAwait(false));

    private async Task<IReplicationEndpoint> EndpointAsync(long? registryId, CancellationToken ct)
    {
        if (registryId is not long id)
        {
            return _local;
        }

        var registry = await _registries.FindByIdAsync(id, ct).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"registry {id} of the policy no longer exists");
        return new RemoteReplicationEndpoint(_clients.For(registry)) { Log = note => Log.DestinationNote(_logger, registry.Name, note) };
    }

    /// <summary>Every (repository, tag) of the source the filters accept.</summary>
    private static async Task<IReadOnlyList<ReplicationItem>> SelectAsync(
        ReplicationPolicy policy, IReplicationEndpoint source, Labels.LabelStore? labels, CancellationToken ct)
    {
        if (policy.HasLabelFilter && (source is not LocalReplicationEndpoint || labels is null))
        {
            // Refused when the policy is saved; a policy stored otherwise still copies nothing it cannot check.
            throw new InvalidOperationException("label filters need this registry as the source");
        }

        IReadOnlyList<string> repositories = policy.LiteralRepository is { } literal ? [literal] : await source.ListRepositoriesAsync(ct).ConfigureAwait(false);
        var items = new List<ReplicationItem>();
        foreach (string repository in repositories.Where(policy.AcceptsRepository).Order(StringComparer.Ordinal))
        {
            var tags = await source.Repository(repository).ListTagsAsync(ct).ConfigureAwait(false);
            foreach (string tag in tags.Where(policy.AcceptsTag).Order(StringComparer.Ordinal))
            {
                if (policy.HasLabelFilter && !policy.AcceptsLabels(await labels!.OfTagAsync(repository, tag, ct).ConfigureAwait(false)))
                {
                    continue;
                }

                items.Add(new ReplicationItem(repository, tag, ReplicationItem.Copy));
            }
        }

        return items;
    }

    private async Task<string> RunTaskAsync(
        long taskId, ReplicationItem item, ReplicationPolicy policy, IReplicationEndpoint source, IReplicationEndpoint destination, CancellationToken ct)
    {
        var log = new StringBuilder();
        long bytes = 0;
        int copied = 0, skipped = 0;
        string status = ReplicationStatus.Failed;
        bool slot = false;
        try
        {
            await _taskSlots.WaitAsync(ct).ConfigureAwait(false);
            slot = true;
            await _store.StartTaskAsync(taskId, ct).ConfigureAwait(false);
            var src = source.Repository(item.Repository);
            var dst = destination.Repository(policy.DestinationRepository(item.Repository));
            Line(log, $"{item.Operation} {source.Name} {src.Path}:{item.Reference} -> {destination.Name} {dst.Path}");
            if (item.Operation == ReplicationItem.Deletion)
            {
                bool deleted = await dst.DeleteAsync(item.Reference, ct).ConfigureAwait(false);
                Line(log, deleted ? "deleted" : "not on the destination: nothing to delete");
            }
            else
            {
                var copy = new CopyOptions
                {
                    Concurrency = Math.Max(1, _options.BlobConcurrency),
                    MountCandidates = destination is LocalReplicationEndpoint ? _ => [LocalReplicationEndpoint.AnyRepository] : null,
                    IsTransient = e => e is HttpRequestException or IOException && e is not ContentException,
                    Transferred = (_, n) => Interlocked.Add(ref bytes, n),
                    Progress = e =>
                    {
                        if (!e.IsManifest && e.Kind == CopyEventKind.Copied)
                        {
                            Interlocked.Increment(ref copied);
                        }
                        else if (!e.IsManifest && e.Kind is CopyEventKind.Skipped or CopyEventKind.Mounted)
                        {
                            Interlocked.Increment(ref skipped);
                        }
                    },
                };
                await CopyAsync(item, policy, src, dst, copy, log, ct).ConfigureAwait(false);
            }

            status = ReplicationStatus.Succeed;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            status = ReplicationStatus.Stopped;
            Line(log, "stopped");
        }
        catch (Exception e)
        {
            status = ReplicationStatus.Failed;
            Line(log, "failed: " + e.Message);
            Log.TaskFailed(_logger, taskId, item.Repository, item.Reference, e.Message);
        }
        finally
        {
            if (slot)
            {
                _taskSlots.Release();
            }

            Line(log, $"{status}: {bytes} bytes, {copied} blobs copied, {skipped} already there");
            await _store.FinishTaskAsync(taskId, status, bytes, copied, skipped, log.ToString(), CancellationToken.None).ConfigureAwait(false);
        }

        return status;
    }

    private async Task CopyAsync(
        ReplicationItem item, ReplicationPolicy policy, IReplicationRepository src, IReplicationRepository dst, CopyOptions copy, StringBuilder log, CancellationToken ct)
    {
        await dst.PrepareAsync(ct).ConfigureAwait(false);
        var root = await src.ResolveAsync(item.Reference, ct).ConfigureAwait(false);
        bool byTag = !Digest.TryParse(item.Reference, out _);
        if (byTag && !policy.Override && await dst.FindTagAsync(item.Reference, ct).ConfigureAwait(false) is { } existing && existing.ToString() != root.Digest.ToString())
        {
            Line(log, $"the destination's {item.Reference} is {existing}, not {root.Digest}; override is off: left as it is");
            return;
        }

        // A speed limit (Harbor's KB/s per task) slows the reads of blobs from the source.
        IReadOnlyStorage from = policy.Speed > 0 ? new ThrottledSource(src, policy.Speed * 1024L, _time) : src;
        await CopyEngine.CopyGraphAsync(from, dst, root, copy, ct).ConfigureAwait(false);
        if (byTag)
        {
            await dst.TagAsync(root, item.Reference, ct).ConfigureAwait(false);
        }

        Line(log, $"{root.MediaType} {root.Digest} copied");
        var referrers = await src.ListReferrersAsync(root.Digest, ct).ConfigureAwait(false);
        foreach (var referrer in referrers)
        {
            // After the subject, so the destination's referrers index lists it as soon as it exists.
            await CopyEngine.CopyGraphAsync(from, dst, referrer, copy, ct).ConfigureAwait(false);
            Line(log, $"referrer {referrer.ArtifactType ?? referrer.MediaType} {referrer.Digest} copied");
        }
    }

    private void Line(StringBuilder log, string text) =>
        log.Append(_time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)).Append(' ').Append(text).Append('\n');

    /// <summary>A source whose blob reads are held to a rate; manifests are small and go unthrottled.</summary>
    private sealed class ThrottledSource(IReadOnlyStorage inner, long bytesPerSecond, TimeProvider time) : IReadOnlyStorage
    {
        public Task<bool> ExistsAsync(Descriptor descriptor, CancellationToken cancellationToken) => inner.ExistsAsync(descriptor, cancellationToken);

        public async Task<Stream> FetchAsync(Descriptor descriptor, CancellationToken cancellationToken)
        {
            var stream = await inner.FetchAsync(descriptor, cancellationToken).ConfigureAwait(false);
            return MediaTypes.IsManifest(descriptor.MediaType) ? stream : new ThrottledStream(stream, bytesPerSecond, time);
        }
    }

    private sealed class ThrottledStream(Stream inner, long bytesPerSecond, TimeProvider time) : ReadOnlyForwardingStream(inner)
    {
        private readonly long _started = time.GetTimestamp();
        private long _read;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            // Small reads so the rate holds within a blob, not only across blobs.
            int n = await Inner.ReadAsync(buffer[..Math.Min(buffer.Length, (int)Math.Clamp(bytesPerSecond / 4, 1024, 1 << 16))], cancellationToken).ConfigureAwait(false);
            _read += n;
            var due = TimeSpan.FromSeconds((double)_read / bytesPerSecond) - time.GetElapsedTime(_started);
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due, cancellationToken).ConfigureAwait(false);
            }

            return n;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1401, Level = LogLevel.Information, Message = "Replication execution {Id} of policy {Policy} started ({Trigger})")]
        public static partial void Started(ILogger logger, long id, string policy, string trigger);

        [LoggerMessage(EventId = 1402, Level = LogLevel.Information, Message = "Replication execution {Id} of policy {Policy} finished: {Status} {Text}")]
        public static partial void Finished(ILogger logger, long id, string policy, string status, string text);

        [LoggerMessage(EventId = 1403, Level = LogLevel.Warning, Message = "Replication task {Id} ({Repository}:{Reference}) failed: {Reason}")]
        public static partial void TaskFailed(ILogger logger, long id, string repository, string reference, string reason);

        [LoggerMessage(EventId = 1404, Level = LogLevel.Warning, Message = "{Count} replication execution(s) were running when wharfd stopped; marked failed")]
        public static partial void Interrupted(ILogger logger, int count);

        [LoggerMessage(EventId = 1405, Level = LogLevel.Warning, Message = "Could not mark interrupted replication executions failed: {Reason}")]
        public static partial void RecoveryFailed(ILogger logger, string reason);

        [LoggerMessage(EventId = 1406, Level = LogLevel.Warning, Message = "Replication execution {Id} finished, but its listeners (webhooks) were not told: {Reason}")]
        public static partial void ListenersFailed(ILogger logger, long id, string reason);

        [LoggerMessage(EventId = 1407, Level = LogLevel.Information, Message = "Replication destination {Registry}: {Note}")]
        public static partial void DestinationNote(ILogger logger, string registry, string note);
    }
}

/// <summary>Told when an execution has finished (its status and tasks recorded): the webhooks' REPLICATION event.</summary>
public interface IReplicationListener
{
    /// <summary>Called on the runner's thread: must only queue, never wait.</summary>
    void ExecutionFinished(ReplicationPolicy policy, ReplicationExecution execution, IReadOnlyList<ReplicationTask> tasks);
}
