using Microsoft.Extensions.Logging;
using Wharf.Oci;
using Wharf.Registry.Metadata;
using Wharf.Registry.Storage;

namespace Wharf.Registry.Gc;

public sealed record GcDecision(Digest Digest, long Size, string Reason);

public sealed record GcReport(bool DryRun, IReadOnlyList<GcDecision> Removed, long BytesFreed);

/// <summary>
/// Online garbage collection of blob content. A blob is removed when nothing refers to it — no
/// repository link, no manifest reference, not a manifest — and it is older than the grace
/// period, so content of a push in progress (committed, not yet referenced by its manifest) is
/// never collected. Files with no record at all (a crash between rename and record) are removed
/// after the same grace. Every decision is logged with its reason; a dry run only reports.
/// </summary>
public sealed partial class GarbageCollector(
    IGcMetadataStore metadata, IBlobStore blobs, BlobLocks locks, RegistryOptions options, TimeProvider time, ILogger<GarbageCollector> logger)
{
    public async Task<GcReport> RunAsync(bool dryRun, CancellationToken cancellationToken)
    {
        var cutoff = time.GetUtcNow() - options.GcGracePeriod;
        var removed = new List<GcDecision>();

        foreach (var (digest, size) in await metadata.ListUnreferencedBlobsAsync(cutoff, cancellationToken).ConfigureAwait(false))
        {
            using var _ = await locks.AcquireAsync(digest, cancellationToken).ConfigureAwait(false);
            if (!dryRun && !await metadata.DeleteBlobRecordIfUnreferencedAsync(digest, cancellationToken).ConfigureAwait(false))
            {
                continue; // referenced again since it was listed
            }

            if (!dryRun)
            {
                blobs.Delete(digest);
            }

            var decision = new GcDecision(digest, size, "no repository, manifest or tag refers to it");
            LogDecision(logger, dryRun ? "would remove" : "removed", digest, size, decision.Reason);
            removed.Add(decision);
        }

        foreach (var digest in blobs.Enumerate().ToList())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (blobs.GetLocalPath(digest) is { } path && File.GetLastWriteTimeUtc(path) >= cutoff.UtcDateTime)
            {
                continue;
            }

            using var _ = await locks.AcquireAsync(digest, cancellationToken).ConfigureAwait(false);
            if (await metadata.BlobRecordExistsAsync(digest, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            long size = blobs.Stat(digest) ?? 0;
            if (!dryRun)
            {
                blobs.Delete(digest);
            }

            var decision = new GcDecision(digest, size, "file has no record (left by an interrupted upload)");
            LogDecision(logger, dryRun ? "would remove" : "removed", digest, size, decision.Reason);
            removed.Add(decision);
        }

        long freed = removed.Sum(d => d.Size);
        LogSummary(logger, dryRun, removed.Count, freed);
        return new GcReport(dryRun, removed, freed);
    }

    [LoggerMessage(EventId = 30, Level = LogLevel.Information, Message = "gc: {Action} {Digest} ({Size} bytes): {Reason}")]
    private static partial void LogDecision(ILogger logger, string action, Digest digest, long size, string reason);

    [LoggerMessage(EventId = 31, Level = LogLevel.Information, Message = "gc finished (dry run: {DryRun}): {Count} blobs, {Bytes} bytes")]
    private static partial void LogSummary(ILogger logger, bool dryRun, int count, long bytes);
}
