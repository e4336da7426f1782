using System.Collections.Concurrent;
using Wharf.Oci;

namespace Wharf.Content;

public enum CopyEventKind
{
    /// <summary>The blob is about to be transferred.</summary>
    Copying,

    /// <summary>The destination already had it.</summary>
    Skipped,

    /// <summary>The destination linked it from another repository.</summary>
    Mounted,

    /// <summary>Transferred and verified.</summary>
    Copied,
}

public sealed record CopyEvent(CopyEventKind Kind, Descriptor Descriptor, bool IsManifest, bool IsConfig);

public sealed class CopyOptions
{
    /// <summary>Blobs transferred at once; podman's default is 6.</summary>
    public int Concurrency { get; init; } = 6;

    /// <summary>Repositories of the destination registry that may already hold a blob, tried as mount sources.</summary>
    public Func<Descriptor, IEnumerable<string>>? MountCandidates { get; init; }

    /// <summary>When the root is an index, picks the one child to copy; null copies every child.</summary>
    public Func<IReadOnlyList<Descriptor>, Descriptor?>? SelectManifest { get; init; }

    /// <summary>
    /// Failures worth transferring a blob again from the start (a dropped connection mid-body, a
    /// 5xx on the upload); the request-level retry cannot resend a streamed body, this can.
    /// </summary>
    public Func<Exception, bool>? IsTransient { get; init; }

    /// <summary>Bytes of a blob read from the source so far (called with each increment); for progress bars.</summary>
    public Action<Descriptor, long>? Transferred { get; init; }

    /// <summary>Whole-blob attempts when <see cref="IsTransient"/> says so.</summary>
    public int BlobAttempts { get; init; } = 3;

    /// <summary>
    /// When set and the destination can, the root manifest is stored straight under this tag
    /// instead of by digest (one manifest PUT, as podman does).
    /// </summary>
    public string? RootReference { get; init; }

    /// <summary>Called from transfer tasks; must be thread-safe.</summary>
    public Action<CopyEvent>? Progress { get; init; }
}

/// <summary>
/// Moves a manifest graph from one store to another: children before parents (so a destination
/// never holds a manifest whose blobs are missing), blobs at bounded concurrency, each blob
/// skipped when the destination has it, mounted when the destination can link it, else streamed.
/// </summary>
public static class CopyEngine
{
    public static async Task<Descriptor> CopyAsync(
        IReadOnlyTarget source, string sourceReference, ITarget destination, string destinationReference, CopyOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        var root = await source.ResolveAsync(sourceReference, cancellationToken).ConfigureAwait(false);
        root = await CopyGraphAsync(source, destination, root, options, cancellationToken).ConfigureAwait(false);
        await destination.TagAsync(root, destinationReference, cancellationToken).ConfigureAwait(false);
        return root;
    }

    /// <summary>Copies the graph under <paramref name="root"/>; returns the root actually copied (the selected child for an index).</summary>
    public static async Task<Descriptor> CopyGraphAsync(
        IReadOnlyStorage source, IStorage destination, Descriptor root, CopyOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Concurrency, 1);
        var walk = new Walk(source, destination, options);
        return await walk.CopyManifestAsync(root, top: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads a whole manifest, capped at the spec's 4 MiB, verified against its descriptor.</summary>
    public static async Task<byte[]> ReadManifestAsync(IFetchable source, Descriptor descriptor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(descriptor);
        if (descriptor.Size > MediaTypes.MaxManifestBytes)
        {
            throw new ContentException($"manifest {descriptor.Digest} is larger than {MediaTypes.MaxManifestBytes} bytes");
        }

        var stream = await source.FetchAsync(descriptor, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            await using var verifying = new VerifyingStream(stream, descriptor, leaveOpen: true);
            using var buffer = new MemoryStream((int)descriptor.Size);
            await verifying.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            return buffer.ToArray();
        }
    }

    private sealed class Walk(IReadOnlyStorage source, IStorage destination, CopyOptions options)
    {
        private readonly SemaphoreSlim _slots = new(options.Concurrency, options.Concurrency);
        private readonly ConcurrentDictionary<Digest, Lazy<Task>> _blobs = new();

        public async Task<Descriptor> CopyManifestAsync(Descriptor descriptor, bool top, CancellationToken ct)
        {
            byte[] body = await ReadManifestAsync(source, descriptor, ct).ConfigureAwait(false);
            var parsed = ManifestParser.Parse(body, descriptor.MediaType);
            if (parsed.IsIndex)
            {
                if (top && options.SelectManifest is { } select)
                {
                    var chosen = select(parsed.Manifests)
                        ?? throw new ContentException("no image in the manifest list matches the requested platform");
                    return await CopyManifestAsync(chosen, top: false, ct).ConfigureAwait(false);
                }

                foreach (var child in parsed.Manifests)
                {
                    await CopyManifestAsync(child, top: false, ct).ConfigureAwait(false);
                }
            }
            else
            {
                var layerTasks = parsed.Layers.Select(l => CopyBlobOnceAsync(l, isConfig: false, ct)).ToList();
                await Task.WhenAll(layerTasks).ConfigureAwait(false);
                if (parsed.Config is { } config)
                {
                    await CopyBlobOnceAsync(config, isConfig: true, ct).ConfigureAwait(false);
                }
            }

            if (top && options.RootReference is { } reference && destination is IReferencePushable byReference)
            {
                using var content = new MemoryStream(body, writable: false);
                await byReference.PushReferenceAsync(descriptor, content, reference, ct).ConfigureAwait(false);
            }
            else if (!await destination.ExistsAsync(descriptor, ct).ConfigureAwait(false))
            {
                using var content = new MemoryStream(body, writable: false);
                await destination.PushAsync(descriptor, content, ct).ConfigureAwait(false);
            }

            options.Progress?.Invoke(new CopyEvent(CopyEventKind.Copied, descriptor, IsManifest: true, IsConfig: false));
            return descriptor;
        }

        private async Task TransferAsync(Descriptor blob, CancellationToken ct)
        {
            var fetched = await source.FetchAsync(blob, ct).ConfigureAwait(false);
            bool verifies = fetched is VerifyingStream;
            var stream = options.Transferred is { } transferred ? new CountingStream(fetched, n => transferred(blob, n)) : fetched;

            await using (stream.ConfigureAwait(false))
            {
                // Sources that verify as they read (registries, the store) need no second hash.
                if (verifies)
                {
                    await destination.PushAsync(blob, stream, ct).ConfigureAwait(false);
                }
                else
                {
                    await using var verifying = new VerifyingStream(stream, blob, leaveOpen: true);
                    await destination.PushAsync(blob, verifying, ct).ConfigureAwait(false);
                }
            }
        }

        private Task CopyBlobOnceAsync(Descriptor blob, bool isConfig, CancellationToken ct) =>
            _blobs.GetOrAdd(blob.Digest, _ => new Lazy<Task>(() => CopyBlobAsync(blob, isConfig, ct))).Value;

        private async Task CopyBlobAsync(Descriptor blob, bool isConfig, CancellationToken ct)
        {
            await _slots.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                options.Progress?.Invoke(new CopyEvent(CopyEventKind.Copying, blob, false, isConfig));
                // The whole step is retried, the existence check and the mount too: a destination that
                // answers a HEAD with a 5xx while another upload of the same blob commits is as worth
                // asking again as a dropped upload.
                for (int attempt = 1; ; attempt++)
                {
                    try
                    {
                        if (await destination.ExistsAsync(blob, ct).ConfigureAwait(false))
                        {
                            options.Progress?.Invoke(new CopyEvent(CopyEventKind.Skipped, blob, false, isConfig));
                            return;
                        }

                        if (destination is IMountable mountable && options.MountCandidates is { } candidates)
                        {
                            foreach (string from in candidates(blob))
                            {
                                if (await mountable.MountAsync(blob, from, ct).ConfigureAwait(false))
                                {
                                    options.Progress?.Invoke(new CopyEvent(CopyEventKind.Mounted, blob, false, isConfig));
                                    return;
                                }
                            }
                        }

                        await TransferAsync(blob, ct).ConfigureAwait(false);
                        break;
                    }
                    catch (Exception e) when (attempt < options.BlobAttempts && options.IsTransient?.Invoke(e) == true && !ct.IsCancellationRequested)
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), ct).ConfigureAwait(false);
                    }
                }

                options.Progress?.Invoke(new CopyEvent(CopyEventKind.Copied, blob, false, isConfig));
            }
            finally
            {
                _slots.Release();
            }
        }
    }
}
