using Wharf.Client;
using Wharf.Content;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine;

public sealed record PullOptions : RegistryAccess
{
    public required string Reference { get; init; }

    public bool Quiet { get; init; }

    public string? Os { get; init; }

    public string? Architecture { get; init; }

    public string? Variant { get; init; }
}

public sealed record PullReport(string ImageId, string Name);

public sealed partial class RegistryImages
{
    /// <summary>
    /// podman pull: resolve the name (alias, search registries), then for each candidate fetch
    /// the manifest (an index resolves to this machine's platform) and copy what is missing.
    /// </summary>
    public async Task<PullReport> PullAsync(PullOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var candidates = ResolvePullCandidates(options.Reference, options.Quiet);
        var errors = new List<string>();
        foreach (var candidate in candidates)
        {
            string name = ImageNames.Qualified(candidate);
            Log(options.Quiet, $"Trying to pull {name}...");
            DebugLog?.Invoke($"Attempting to pull candidate {name} for {options.Reference}");
            try
            {
                var pulled = await PullOneAsync(candidate, name, options, cancellationToken).ConfigureAwait(false);
                DebugLog?.Invoke($"Pulled candidate {name} successfully");
                return pulled;
            }
            catch (Exception e) when (e is RegistryException or ContentException or HttpRequestException or WharfException or IOException && e is not StoreFullException)
            {
                errors.Add(e is WharfException ? e.Message : $"initializing source docker://{name}: {e.Message}");
            }
        }

        if (errors.Count == 1)
        {
            throw new WharfException(errors[0]);
        }

        throw new WharfException($"{errors.Count} errors occurred while pulling:\n" + string.Join('\n', errors.Select(e => " * " + e)));
    }

    private List<Reference> ResolvePullCandidates(string input, bool quiet)
    {
        var reference = ImageNames.Parse(input);
        if (reference.Domain is not null)
        {
            return [reference.Normalize()];
        }

        if (Registries.Aliases.TryGetValue(reference.Path, out var alias))
        {
            Log(quiet, $"Resolved \"{reference.Path}\" as an alias ({alias.Source})");
            var target = ImageNames.Parse(alias.Value);
            return [target.Normalize() with { Tag = reference.Tag, Digest = reference.Digest }];
        }

        var registries = Registries.UnqualifiedSearchRegistries;
        if (registries.Count == 0)
        {
            throw new WharfException(
                $"short-name \"{input}\" did not resolve to an alias and no unqualified-search registries are defined in \"{Registries.MainPath}\"");
        }

        Log(quiet, $"Resolving \"{reference.Name}\" using unqualified-search registries ({Registries.UnqualifiedSearchRegistriesSource})");
        return [.. registries.Select(r => (reference with { Domain = r }).Normalize())];
    }

    private async Task<PullReport> PullOneAsync(Reference reference, string name, PullOptions options, CancellationToken ct)
    {
        if (Registries.IsBlocked(reference.Name))
        {
            throw new WharfException($"initializing source docker://{name}: registry {reference.Domain} is blocked in {Registries.SourcesDescription}");
        }

        // Mirrors, then the (possibly rewritten) location; the image is stored under the name asked for.
        RemoteRepository? repository = null;
        RegistryClient? client = null;
        Descriptor? root = null;
        Reference? location = null;
        string tagOrDigest = reference.Digest?.ToString() ?? reference.Tag ?? "latest";
        Exception? lastError = null;
        foreach (var (source, insecure) in PullSources(reference))
        {
            var candidateClient = CreateClient(source.Domain!, source.Name, options, insecure);
            try
            {
                var candidate = candidateClient.Repository(source.Path);
                root = await candidate.ResolveAsync(tagOrDigest, ct).ConfigureAwait(false);
                (client, repository, location) = (candidateClient, candidate, source);
                break;
            }
            catch (Exception e) when (e is RegistryException or ContentException or HttpRequestException)
            {
                candidateClient.Dispose();
                lastError = e;
            }
        }

        if (repository is null || root is null || location is null || client is null)
        {
            throw lastError is null ? new WharfException($"initializing source docker://{name}: no source to pull from") : new WharfException($"initializing source docker://{name}: {lastError.Message}", lastError);
        }

        using var clientScope = client;
        var target = new LocalImageTarget(Store, Options.Time) { Location = location.Name };
        // Layers unpack while they download, as podman's pull leaves them, so the first run does not
        // wait for them (WHARF_UNPACK_ON_PULL=0 keeps pull to blob copying).
        var layers = Environment.Get("WHARF_UNPACK_ON_PULL") == "0" ? null : new Containers.LayerStore(Store, Storage.Quota);
        Store.LayerSink = layers;
        Digest? listDigest = null;
        if (MediaTypes.IsIndex(root.MediaType))
        {
            listDigest = root.Digest;
            byte[] indexBody = await CopyEngine.ReadManifestAsync(repository, root, ct).ConfigureAwait(false);
            var index = ManifestParser.Parse(indexBody, root.MediaType);
            root = SelectPlatform(index.Manifests, options)
                ?? throw new WharfException($"choosing an image from manifest list docker://{name}: no image found in manifest list for architecture {Architecture(options)}, variant \"{options.Variant}\", OS {options.Os ?? "linux"}");
        }

        byte[] manifestBody = await CopyEngine.ReadManifestAsync(repository, root, ct).ConfigureAwait(false);
        var manifest = ManifestParser.Parse(manifestBody, root.MediaType);
        if (manifest.IsIndex)
        {
            throw new WharfException($"initializing source docker://{name}: nested manifest lists are not supported");
        }

        // An image a read-only store holds is used from there: nothing is downloaded or written
        // (podman's pull skips every blob of it as already there), unless the user's own store has it too.
        var images = Store.ReadImages();
        if (!images.Any(i => !i.ReadOnly && i.Digest == root.Digest.ToString())
            && images.FirstOrDefault(i => i.ReadOnly && i.Digest == root.Digest.ToString()) is { } shared)
        {
            Log(options.Quiet, "Getting image source signatures");
            Log(options.Quiet, "Writing manifest to image destination");
            Log(options.Quiet, "Storing signatures");
            DebugLog?.Invoke($"Image {shared.Id} is in the read-only store {shared.ReadOnlyStore}: nothing to pull");
            Store.LayerSink = null;
            Events.Image("pull", shared.Id, name);
            return new PullReport(shared.Id, name);
        }

        // Reserve the bytes this pull adds (manifest, config and layers not yet stored, by the
        // manifest's sizes) under the store lock, before any blob is fetched.
        IDisposable inflight;
        try
        {
            inflight = Store.Reserve([root.Digest.ToString(), .. manifest.Blobs.Select(b => b.Digest.ToString())], [root, .. manifest.Blobs], Storage.Quota);
        }
        catch (StoreFullException e)
        {
            throw new StoreFullException(
                $"pulling {name}: not enough space in the image store: {e.Message}; remove images with \"wharf rmi\" or \"wharf image prune\", "
                + $"or ask an administrator to run \"wharf system reset --root {Storage.GraphRoot}\"", e);
        }

        using var inflightScope = inflight;
        Log(options.Quiet, "Getting image source signatures");
        var progress = options.Quiet ? null : Options.TransferProgress;
        var route = progress.Route(line => Log(options.Quiet, line));
        try
        {
            await CopyEngine.CopyGraphAsync(repository, target, root, new CopyOptions
            {
                IsTransient = IsTransient,
                Progress = route.Events,
                Transferred = route.Bytes,
            }, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RegistryException or ContentException)
        {
            throw new WharfException($"copying image docker://{name}: {e.Message}", e);
        }

        progress?.Complete();
        Log(options.Quiet, "Writing manifest to image destination");
        Log(options.Quiet, "Storing signatures");
        var record = target.Register(root, name, listDigest);
        Store.LayerSink = null;
        layers?.AdoptPulled(record);
        Events.Image("pull", record.Id, name);
        return new PullReport(record.Id, name);
    }

    /// <summary>
    /// Where a pull may come from, in order: the registry's mirrors that apply (pull-from-mirror,
    /// mirror-by-digest-only), then its location with the prefix rewritten. Each with its own insecure flag.
    /// </summary>
    private List<(Reference Source, bool? Insecure)> PullSources(Reference reference)
    {
        var sources = new List<(Reference, bool?)>();
        var entry = Registries.Find(reference.Name);
        bool byDigest = reference.Digest is not null;
        if (entry is not null && !entry.Prefix.StartsWith("*.", StringComparison.Ordinal))
        {
            foreach (var mirror in entry.Mirrors)
            {
                string mode = entry.MirrorByDigestOnly ? "digest-only" : mirror.PullFromMirror;
                if ((mode == "digest-only" && !byDigest) || (mode == "tag-only" && byDigest))
                {
                    continue;
                }

                if (Oci.Reference.TryParse(mirror.Location + reference.Name[entry.Prefix.Length..], out var m, out _) && m.Domain is not null)
                {
                    sources.Add((m with { Tag = reference.Tag, Digest = reference.Digest }, mirror.Insecure));
                }
            }
        }

        var location = ImageNames.Parse(Registries.RewriteForPull(reference.Name));
        sources.Add((location with { Tag = reference.Tag, Digest = reference.Digest }, null));
        return sources;
    }

    internal static string Architecture(PullOptions options) => options.Architecture ?? Platform.HostArchitecture;

    /// <summary>The index entry for the wanted os/architecture (and variant when given); this machine's by default.</summary>
    internal static Descriptor? SelectPlatform(IReadOnlyList<Descriptor> manifests, PullOptions options)
    {
        string os = options.Os ?? "linux";
        string arch = Architecture(options);
        var matching = manifests.Where(m => m.Platform is { } p && p.Os == os && p.Architecture == arch).ToList();
        if (options.Variant is { } variant)
        {
            return matching.FirstOrDefault(m => m.Platform!.Variant == variant);
        }

        // arm64 images are often "v8"; prefer an entry without a variant, else the first.
        return matching.FirstOrDefault(m => m.Platform!.Variant is null) ?? matching.FirstOrDefault();
    }
}
