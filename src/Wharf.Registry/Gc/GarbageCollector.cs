using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Wharf.Oci;
using Wharf.Registry.Metadata;
using Wharf.Registry.Storage;

namespace Wharf.Registry.Gc;

/// <summary>One thing GC did (or, in a dry run, would do), with its reason; <see cref="Repository"/> is set for an unlink.</summary>
public sealed record GcDecision(Digest Digest, long Size, string Reason, RepositoryName? Repository = null);

public sealed record GcReport(bool DryRun, IReadOnlyList<GcDecision> Removed, long BytesFreed)
{
    /// <summary>Links removed because no manifest of their repository referred to the blob past the grace period.</summary>
    public IReadOnlyList<GcDecision> Unlinked { get; init; } = [];

    /// <summary>Every decision, one line each, as the GC history's log shows it.</summary>
    public string Log
    {
        get
        {
            string verb = DryRun ? "would " : string.Empty;
            var log = new StringBuilder();
            foreach (var d in Unlinked)
            {
                log.Append(CultureInfo.InvariantCulture, $"{verb}unlink {d.Digest} from {d.Repository} ({d.Size} bytes): {d.Reason}\n");
            }

            foreach (var d in Removed)
            {
                log.Append(CultureInfo.InvariantCulture, $"{verb}remove {d.Digest} ({d.Size} bytes): {d.Reason}\n");
            }

            if (DryRun)
            {
                log.Append(CultureInfo.InvariantCulture, $"dry run: {Unlinked.Count} links would be unlinked, {Removed.Count} blobs would be removed, {BytesFreed} bytes would be freed\n");
            }
            else
            {
                log.Append(CultureInfo.InvariantCulture, $"done: {Unlinked.Count} links unlinked, {Removed.Count} blobs removed, {BytesFreed} bytes freed\n");
            }

            return log.ToString();
        }
    }
}

/// <summary>
/// Garbage collection of blob content, in two steps, each decision logged with its reason:
/// <list type="number">
/// <item>A link of a blob to a repository that no manifest of that repository refers to, made
/// longer ago than <see cref="RegistryOptions.UnreferencedLinkGracePeriod"/>, is removed: a refused
/// or abandoned push frees its space and its project's quota. A push that links the blob again
/// restarts the period.</item>
/// <item>A blob that nothing refers to — no repository link, no manifest reference, not a manifest —
/// and older than <see cref="RegistryOptions.GcGracePeriod"/> is removed; so are files with no
/// record at all (a crash between rename and record) after the same grace.</item>
/// </list>
/// A dry run decides the same and changes nothing.
/// </summary>
public sealed partial class GarbageCollector(
    IGcMetadataStore metadata, IBlobStore blobs, BlobLocks locks, RegistryOptions options, TimeProvider time, ILogger<GarbageCollector> logger)
{
    public async Task<GcReport> RunAsync(bool dryRun, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var cutoff = now - options.GcGracePeriod;
        var linkCutoff = now - options.UnreferencedLinkGracePeriod;
        var unlinked = new List<GcDecision>();
        var removed = new List<GcDecision>();

        foreach (var (repository, digest, size) in await metadata.ListDanglingLinksAsync(linkCutoff, cancellationToken).ConfigureAwait(false))
        {
            using var _ = await locks.AcquireAsync(digest, cancellationToken).ConfigureAwait(false);
            if (!dryRun && !await metadata.UnlinkIfDanglingAsync(repository, digest, linkCutoff, cancellationToken).ConfigureAwait(false))
            {
                continue; // linked again or referenced since it was listed
            }

            var decision = new GcDecision(digest, size, $"no manifest of the repository refers to it since {options.UnreferencedLinkGracePeriod}", repository);
            LogUnlink(logger, dryRun ? "would unlink" : "unlinked", digest, repository, size, decision.Reason);
            unlinked.Add(decision);
        }

        foreach (var (digest, size) in await metadata.ListUnreferencedBlobsAsync(cutoff, linkCutoff, cancellationToken).ConfigureAwait(false))
        {
            using var _ = await locks.AcquireAsync(digest, cancellationToken).ConfigureAwait(false);
            if (!dryRun && !await metadata.DeleteBlobRecordIfUnreferencedAsync(digest, cancellationToken).ConfigureAwait(false))
            {
                continue; // referenced again since it was listed
            }

            if (!dryRun)
            {
                await DeleteMarkedAsync(digest).ConfigureAwait(false);
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
            // The mark is taken only when no row and no upload's pin exist, in one transaction: an
            // instance committing the same content waits for the delete instead of trusting this file.
            if (dryRun
                    ? await metadata.BlobRecordExistsAsync(digest, cancellationToken).ConfigureAwait(false)
                    : !await metadata.MarkUnrecordedBlobDeletingAsync(digest, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            long size = blobs.Stat(digest) ?? 0;
            if (!dryRun)
            {
                await DeleteMarkedAsync(digest).ConfigureAwait(false);
            }

            var decision = new GcDecision(digest, size, "file has no record (left by an interrupted upload)");
            LogDecision(logger, dryRun ? "would remove" : "removed", digest, size, decision.Reason);
            removed.Add(decision);
        }

        long freed = removed.Sum(d => d.Size);
        LogSummary(logger, dryRun, unlinked.Count, removed.Count, freed);
        return new GcReport(dryRun, removed, freed) { Unlinked = unlinked };
    }

    /// <summary>Deletes a file that this run marked as being deleted, then lifts the mark (even when the delete failed).</summary>
    private async Task DeleteMarkedAsync(Digest digest)
    {
        try
        {
            blobs.Delete(digest);
        }
        finally
        {
            await metadata.ClearBlobDeletionAsync(digest, CancellationToken.None).ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 30, Level = LogLevel.Information, Message = "gc: {Action} {Digest} ({Size} bytes): {Reason}")]
    private static partial void LogDecision(ILogger logger, string action, Digest digest, long size, string reason);

    [LoggerMessage(EventId = 31, Level = LogLevel.Information, Message = "gc finished (dry run: {DryRun}): {Links} links, {Count} blobs, {Bytes} bytes")]
    private static partial void LogSummary(ILogger logger, bool dryRun, int links, int count, long bytes);

    [LoggerMessage(EventId = 33, Level = LogLevel.Information, Message = "gc: {Action} {Digest} from {Repository} ({Size} bytes): {Reason}")]
    private static partial void LogUnlink(ILogger logger, string action, Digest digest, RepositoryName repository, long size, string reason);
}
