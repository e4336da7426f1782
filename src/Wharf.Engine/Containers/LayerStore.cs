using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Content;
using Wharf.Content.Layers;
using Wharf.Engine.Images;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine.Containers;

/// <summary>An image's unpacked layers, bottom first, each as a directory usable as an overlay lower dir.</summary>
public sealed record UnpackedImage(IReadOnlyList<string> LayerDirs, IReadOnlyList<string> ChainIds, JsonObject Config, ParsedManifest Manifest);

/// <summary>
/// Layers unpacked once per chain ID (image-spec config.md, "Layer ChainID"), so two images that
/// share a base share its directories. Layout:
/// <code>
/// &lt;graphroot&gt;/wharf/layers/
///   &lt;chainid-hex&gt;/diff     the layer's files, whiteouts as overlay 0/0 char devices and opaque xattrs
///   &lt;chainid-hex&gt;/diffid   the diff ID the unpack computed (checked against the config)
///   tmp/&lt;pid&gt;-&lt;id&gt;        unpacks in progress; renamed into place only when complete and verified
///   pulled/&lt;blob-hex&gt;/      a layer unpacked while its blob downloaded, until the pull knows its chain ID
/// </code>
/// An unpack writes its own temporary directory, syncs it (files and directories), renames it to
/// its chain ID and syncs <c>layers/</c>, so a crash, even a power cut, never leaves a partial layer
/// under a final name. Two processes unpacking the same layer each write their own temporary
/// directory; the first rename wins and the loser discards its copy. Unpacked layers count against the store quota
/// (<see cref="ImageStore.UsedBytes()"/> walks this directory), so unpacking stops at what is left
/// of it: a layer inflating past that is a <see cref="StoreFullException"/> and leaves nothing.
/// </summary>
public sealed class LayerStore(ImageStore images, long? quota = null) : ILayerSink
{
    public string Root { get; } = Path.Combine(images.Root, "layers");

    // One budget for all layers a pull unpacks as they download (side by side): the store's usage
    // is walked once per pull, not once per layer.
    private readonly Lazy<(LayerBudget Budget, string Limit)> _pullBudget = new(() => Budget(images, quota));

    /// <summary>
    /// Deletes every unpacked layer whose chain ID (hex) is not in <paramref name="keep"/>: the
    /// caller holds the store lock and names what images and containers still use. Each goes by a
    /// rename into <c>tmp/</c> first, so no half-deleted layer is ever found under its chain ID.
    /// Returns the bytes freed.
    /// </summary>
    public long RemoveUnused(IReadOnlySet<string> keep)
    {
        ArgumentNullException.ThrowIfNull(keep);
        if (!Directory.Exists(Root))
        {
            return 0;
        }

        long freed = 0;
        foreach (string dir in Directory.GetDirectories(Root))
        {
            string name = Path.GetFileName(dir);
            if (name is "tmp" or "pulled" || keep.Contains(name) || !Digest.TryParse("sha256:" + name, out _))
            {
                continue;
            }

            long size = ImageStore.TreeSize(dir);
            string doomed = Path.Combine(Root, "tmp", $"{Environment.ProcessId}-gc-{name}");
            Directory.CreateDirectory(Path.Combine(Root, "tmp"));
            Directory.Move(dir, doomed);
            Directory.Delete(doomed, recursive: true);
            freed += size;
        }

        return freed;
    }

    /// <summary>ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)).</summary>
    public static IReadOnlyList<string> ChainIds(IReadOnlyList<string> diffIds)
    {
        ArgumentNullException.ThrowIfNull(diffIds);
        var result = new List<string>(diffIds.Count);
        string? parent = null;
        foreach (string diffId in diffIds)
        {
            parent = parent is null
                ? diffId
                : Digest.Sha256 + ":" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(parent + " " + diffId)));
            result.Add(parent);
        }

        return result;
    }

    public string LayerDir(string chainId) => Path.Combine(Root, Digest.Parse(chainId).Encoded, "diff");

    /// <summary>Unpacks whatever layers of <paramref name="image"/> are not yet on disk, verifying each diff ID.</summary>
    /// <param name="squashfsLower">
    /// For a layer this store has not unpacked: the lower dir at which a read-only store's
    /// squashfs form of it will be mounted (containers mount it when they start), or null where
    /// there is none or it cannot be mounted here; then the unpacked form, then an unpack.
    /// </param>
    /// <param name="wanted">
    /// Which layers (by chain ID) must be on disk; null: all. A layer not wanted is not unpacked,
    /// and its entry in <see cref="UnpackedImage.LayerDirs"/> may not exist (a publish skips the
    /// layers its shared store has already).
    /// </param>
    public async Task<UnpackedImage> EnsureAsync(ImageRecord image, WhiteoutMode mode, CancellationToken cancellationToken, Func<string, string?>? squashfsLower = null, Func<string, bool>? wanted = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        var manifest = ManifestParser.Parse(images.ReadBlob(image.Digest), image.ManifestMediaType);
        var node = ParseConfig(images.ReadBlob(manifest.Config!.Digest), image);
        var diffIds = ImageRootFs.DiffIds(node, manifest.Layers.Count, image.ShortId);
        var config = (JsonObject)node!;
        var chainIds = ChainIds(diffIds);
        // A layer this store has not unpacked but a read-only store has is used where it is:
        // nothing is copied or counted against the quota (docs/shared-store.md).
        var dirs = chainIds.Select(c => Directory.Exists(LayerDir(c)) ? LayerDir(c) : squashfsLower?.Invoke(c) ?? images.FindReadOnlyLayer(c) ?? LayerDir(c)).ToList();

        // What a killed unpack left is garbage that still counts against the quota: gone first.
        images.RemoveDeadUnpacks();

        // In overlay mode every layer has its own directory, so missing layers unpack side by side.
        var missing = Enumerable.Range(0, chainIds.Count).Where(i => !Directory.Exists(dirs[i]) && (wanted?.Invoke(chainIds[i]) ?? true)).ToList();
        if (missing.Count == 0)
        {
            return new UnpackedImage(dirs, chainIds, config, manifest);
        }

        // One budget for all of them: layers unpacking side by side together stay within it.
        var budget = Budget();
        if (mode == WhiteoutMode.Overlay && missing.Count > 1)
        {
            await Parallel.ForEachAsync(
                missing,
                new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken },
                async (i, ct) => await UnpackAsync(manifest.Layers[i], diffIds[i], Path.GetDirectoryName(dirs[i])!, mode, budget, ct).ConfigureAwait(false)).ConfigureAwait(false);
        }
        else
        {
            foreach (int i in missing)
            {
                await UnpackAsync(manifest.Layers[i], diffIds[i], Path.GetDirectoryName(dirs[i])!, mode, budget, cancellationToken).ConfigureAwait(false);
            }
        }

        return new UnpackedImage(dirs, chainIds, config, manifest);
    }

    private static JsonNode? ParseConfig(byte[] config, ImageRecord image)
    {
        try
        {
            return JsonNode.Parse(config);
        }
        catch (JsonException e)
        {
            throw new WharfException($"image {image.ShortId}: config is not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>
    /// What unpacking may write: the quota left after what the store already holds (blobs and
    /// unpacked layers, <see cref="ImageStore.UsedBytes()"/>), and never more than the filesystem
    /// has free. Layers inflate by an amount their compressed size does not bound.
    /// </summary>
    private (LayerBudget Budget, string Limit) Budget() => Budget(images, quota);

    private static (LayerBudget Budget, string Limit) Budget(ImageStore images, long? quota)
    {
        long free = images.FreeSpace();
        if (quota is not { } q)
        {
            return (new LayerBudget(free), $"{ByteSize.Format(free)} free on the filesystem");
        }

        long used = images.UsedBytes();
        long left = Math.Max(0, q - used);
        return left <= free
            ? (new LayerBudget(left), $"{ByteSize.Format(left)} left of quota {ByteSize.Format(q)} (used {ByteSize.Format(used)})")
            : (new LayerBudget(free), $"{ByteSize.Format(free)} free on the filesystem (store uses {ByteSize.Format(used)} of quota {ByteSize.Format(q)})");
    }

    private StoreFullException StoreFull(Descriptor layer, string limit, LayerBudgetException e) =>
        new($"unpacking layer {layer.Digest}: not enough space in the image store: the layer inflates past the {limit}; "
            + $"remove images with \"wharf rmi\" or \"wharf image prune\", or ask an administrator to run \"wharf system reset --root {images.GraphRoot}\"", e);

    private async Task UnpackAsync(Descriptor layer, string diffId, string final, WhiteoutMode mode, (LayerBudget Budget, string Limit) budget, CancellationToken cancellationToken)
    {
        string tmpRoot = Path.Combine(Root, "tmp");
        Directory.CreateDirectory(tmpRoot);
        string temp = Path.Combine(tmpRoot, $"{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            LayerUnpackReport report;
            var blob = images.OpenBlob(layer.Digest);
            await using (blob.ConfigureAwait(false))
            {
                try
                {
                    report = await LayerUnpacker.UnpackAsync(blob, Path.Combine(temp, "diff"), new LayerUnpackOptions { Whiteouts = mode, Budget = budget.Budget }, cancellationToken).ConfigureAwait(false);
                }
                catch (LayerBudgetException e)
                {
                    throw StoreFull(layer, budget.Limit, e);
                }
                catch (LayerException e)
                {
                    throw new WharfException($"unpacking layer {layer.Digest}: {e.Message}", e);
                }
            }

            if (report.DiffId.ToString() != diffId)
            {
                throw new WharfException($"layer {layer.Digest}: its content has diff ID {report.DiffId}, the image config says {diffId}");
            }

            await File.WriteAllTextAsync(Path.Combine(temp, "diffid"), diffId, cancellationToken).ConfigureAwait(false);

            // Files first, then the rename that makes them the layer, then the rename itself: a
            // power cut at any point leaves either no layers/<chainid> or a complete one.
            Durable.SyncTree(temp);
            RemoveDamaged(final);
            try
            {
                Directory.Move(temp, final);
                Durable.SyncDirectory(Root);
            }
            catch (IOException) when (Directory.Exists(Path.Combine(final, "diff")))
            {
                // Another process unpacked the same chain first; its copy is identical.
            }
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }

    /// <summary>
    /// A layer is published by renaming a directory that holds both its <c>diff</c> and its
    /// <c>diffid</c>, so <c>layers/&lt;chainid&gt;</c> without a <c>diff</c> was damaged behind
    /// wharf's back (what <c>system check</c> reports): it is removed so that a fresh unpack takes
    /// its place, where a rename onto it would fail and leave containers a missing lower dir.
    /// </summary>
    private static void RemoveDamaged(string final)
    {
        if (Directory.Exists(final) && !Directory.Exists(Path.Combine(final, "diff")))
        {
            try
            {
                Directory.Delete(final, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
                // Another process removed it first.
            }
        }
    }

    /// <summary>
    /// Unpacks a gzip layer from the bytes of its download (pull with <see cref="ImageStore.LayerSink"/>),
    /// so a first run finds it in place, as podman's pull leaves it. Best effort: a layer that fails
    /// here (hostile, over the quota) is dropped and the first run unpacks it again and says why.
    /// </summary>
    public async Task<long?> ConsumeAsync(Descriptor layer, Stream compressed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(compressed);
        long total = 0;
        string temp = Path.Combine(Root, "tmp", $"{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            var gzip = new GZipStream(compressed, CompressionMode.Decompress);
            await using (gzip.ConfigureAwait(false))
            {
                var counting = new CountingStream(gzip, n => total += n);
                await using (counting.ConfigureAwait(false))
                {
                    try
                    {
                        Directory.CreateDirectory(Path.Combine(Root, "tmp"));
                        var report = await LayerUnpacker.UnpackAsync(counting, Path.Combine(temp, "diff"), new LayerUnpackOptions { Whiteouts = WhiteoutMode.Overlay, Budget = _pullBudget.Value.Budget }, cancellationToken).ConfigureAwait(false);
                        await counting.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
                        await File.WriteAllTextAsync(Path.Combine(temp, "diffid"), report.DiffId.ToString(), cancellationToken).ConfigureAwait(false);
                        string staged = Path.Combine(Root, "pulled", layer.Digest.Encoded);
                        Directory.CreateDirectory(Path.GetDirectoryName(staged)!);
                        if (!Directory.Exists(staged))
                        {
                            Durable.SyncTree(temp);
                            Directory.Move(temp, staged);
                        }
                    }
                    catch (Exception e) when (e is LayerException or LayerBudgetException or UnauthorizedAccessException or WharfException
                        || (e is IOException && e is not InvalidDataException))
                    {
                        await counting.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
                    }
                }
            }

            return total;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or OperationCanceledException)
        {
            return null;
        }
        finally
        {
            await compressed.DisposeAsync().ConfigureAwait(false);
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }

    /// <summary>
    /// Moves the layers a pull unpacked (<see cref="ConsumeAsync"/>) to their chain IDs, now that the
    /// image's config names them; a staged layer whose diff ID the config does not confirm is dropped.
    /// </summary>
    public void AdoptPulled(ImageRecord image)
    {
        ArgumentNullException.ThrowIfNull(image);
        string staging = Path.Combine(Root, "pulled");
        if (!Directory.Exists(staging))
        {
            return;
        }

        var manifest = ManifestParser.Parse(images.ReadBlob(image.Digest), image.ManifestMediaType);
        IReadOnlyList<string>? diffIds = null;
        try
        {
            diffIds = ImageRootFs.DiffIds(JsonNode.Parse(images.ReadBlob(manifest.Config!.Digest)), manifest.Layers.Count, image.ShortId);
        }
        catch (Exception e) when (e is WharfException or JsonException)
        {
            // A hostile config: nothing is adopted, and the first run says what is wrong with it.
        }

        var chainIds = diffIds is null ? null : ChainIds(diffIds);
        for (int i = 0; i < manifest.Layers.Count; i++)
        {
            string staged = Path.Combine(staging, manifest.Layers[i].Digest.Encoded);
            if (!Directory.Exists(staged))
            {
                continue;
            }

            if (diffIds is not null && chainIds is not null && File.ReadAllText(Path.Combine(staged, "diffid")) == diffIds[i])
            {
                string final = Path.GetDirectoryName(LayerDir(chainIds[i]))!;
                try
                {
                    RemoveDamaged(final);
                    if (!Directory.Exists(final))
                    {
                        Directory.Move(staged, final);
                        Durable.SyncDirectory(Root);
                    }
                }
                catch (IOException) when (Directory.Exists(Path.Combine(final, "diff")))
                {
                    // Another process put the same chain in place first.
                }
            }

            if (Directory.Exists(staged))
            {
                Directory.Delete(staged, recursive: true);
            }
        }
    }

    /// <summary>Applies every layer of an image in order onto one directory (the copy fallback, no overlay).</summary>
    public async Task ApplyAllAsync(ImageRecord image, string target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        var manifest = ManifestParser.Parse(images.ReadBlob(image.Digest), image.ManifestMediaType);

        // The copy lives outside the store's quota, but must not fill the filesystem either.
        var budget = Budget();
        foreach (var layer in manifest.Layers)
        {
            var blob = images.OpenBlob(layer.Digest);
            await using (blob.ConfigureAwait(false))
            {
                try
                {
                    await LayerUnpacker.UnpackAsync(blob, target, new LayerUnpackOptions { Whiteouts = WhiteoutMode.Apply, Budget = budget.Budget }, cancellationToken).ConfigureAwait(false);
                }
                catch (LayerBudgetException e)
                {
                    throw StoreFull(layer, budget.Limit, e);
                }
            }
        }
    }
}
