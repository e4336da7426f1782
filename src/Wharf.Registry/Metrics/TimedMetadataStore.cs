using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.ExceptionServices;
using Prometheus;
using Wharf.Registry.Metadata;

namespace Wharf.Registry.Metrics;

/// <summary>
/// The metadata store as the registry API sees it when metrics are on: every call timed into
/// <c>wharf_db_operation_duration_seconds{operation}</c> (until its task completes), then passed on
/// unchanged. A proxy rather than a hand-written decorator so the store's interface can grow without
/// this file; when metrics are off the API gets the store itself and pays nothing.
/// </summary>
public class TimedMetadataStore : DispatchProxy
{
    private static readonly ConcurrentDictionary<MethodInfo, string> Operations = new();

    private IMetadataStore _inner = null!;
    private Histogram _duration = null!;

    public static IMetadataStore Wrap(IMetadataStore inner, RegistryMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var proxy = Create<IMetadataStore, TimedMetadataStore>();
        var timed = (TimedMetadataStore)(object)proxy;
        timed._inner = inner;
        timed._duration = metrics.DatabaseDuration;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        long start = Stopwatch.GetTimestamp();
        object? result;
        try
        {
            result = targetMethod.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }

        var child = _duration.WithLabels(Operations.GetOrAdd(targetMethod, m => m.Name.EndsWith("Async", StringComparison.Ordinal) ? m.Name[..^5] : m.Name));
        if (result is Task { IsCompleted: false } task)
        {
            _ = task.ContinueWith(_ => child.Observe(Stopwatch.GetElapsedTime(start).TotalSeconds), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        else
        {
            child.Observe(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        return result;
    }
}
