using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Wharf.Client;
using Wharf.Content;
using Wharf.Oci;

namespace Wharf.Engine;

/// <summary>
/// <c>wharf image mirror</c>: images named by the user (arguments, a list file, every tag of a
/// repository, or every image of an OCI layout) copied to a registry or into one OCI layout.
/// </summary>
public sealed record MirrorOptions
{
    /// <summary>Image references (<c>[docker://]REF</c>) or layouts (<c>oci:DIR[:REF]</c>).</summary>
    public IReadOnlyList<string> Sources { get; init; } = [];

    /// <summary><c>--images-from FILE</c>: one source per line; blank lines and <c>#</c> comments skipped.</summary>
    public string? ImagesFrom { get; init; }

    /// <summary><c>docker://HOST[/PREFIX]</c> or <c>oci:DIR</c>.</summary>
    public required string Destination { get; init; }

    /// <summary><c>--all-tags</c>: a registry source without tag or digest means every tag of it.</summary>
    public bool AllTags { get; init; }

    /// <summary><c>--platform OS/ARCH[/VARIANT]</c> (repeatable); empty copies every platform of an index.</summary>
    public IReadOnlyList<Platform> Platforms { get; init; } = [];

    /// <summary><c>--scoped</c>: the destination repository keeps the source's registry host too.</summary>
    public bool Scoped { get; init; }

    /// <summary><c>--keep-going</c>: an image that fails is reported and the rest are still copied.</summary>
    public bool KeepGoing { get; init; }

    public bool Quiet { get; init; }

    public RegistryAccess SourceAccess { get; init; } = new();

    public RegistryAccess DestinationAccess { get; init; } = new();
}

/// <param name="Failures">One line per image that failed (only more than one with <c>--keep-going</c>).</param>
public sealed record MirrorReport(int Images, int Copied, int BlobsCopied, int BlobsSkipped, long BytesCopied, IReadOnlyList<string> Failures);

public sealed partial class RegistryImages
{
    private const string DockerTransport = "docker://";
    private const string OciTransport = "oci:";

    /// <summary>One image to copy: where it is read, where it goes.</summary>
    private sealed record MirrorItem(string Display, Func<CancellationToken, Task<MirrorSource>> Open, string DestinationName, Reference? DestinationReference);

    private sealed record MirrorSource(IReadOnlyTarget Target, Descriptor Root, IDisposable? Owner);

    /// <summary>
    /// Checks every source and the destination before anything is copied (a bad line changes
    /// nothing), then copies image after image: blobs the destination has are skipped, the rest
    /// are streamed and verified, manifests travel byte for byte, and an image's tag is written
    /// only after all of its content. A run killed at any point is completed by running it again.
    /// </summary>
    public async Task<MirrorReport> MirrorAsync(MirrorOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var destination = ParseMirrorDestination(options.Destination);
        var sources = ReadMirrorSources(options);
        if (sources.Count == 0)
        {
            throw new WharfException("no images to mirror: give image references or --images-from FILE");
        }

        // Expand (tag lists, layout indexes) — still nothing written.
        var items = new List<MirrorItem>();
        foreach (var (text, origin) in sources)
        {
            items.AddRange(await ExpandMirrorSourceAsync(text, origin, destination, options, cancellationToken).ConfigureAwait(false));
        }

        RegistryClient? destinationClient = null;
        OciLayoutTarget? layout = null;
        if (destination.Layout is { } dir)
        {
            layout = new OciLayoutTarget(dir).Initialize();
        }
        else
        {
            destinationClient = CreateClient(destination.Host!, destination.Host!, options.DestinationAccess);
        }

        using var destinationScope = destinationClient;
        var pushedTo = new ConcurrentDictionary<Digest, string>();
        int copiedImages = 0, blobsCopied = 0, blobsSkipped = 0;
        long bytes = 0;
        var failures = new List<string>();
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i];
            Log(options.Quiet, $"Copying image {i + 1}/{items.Count} {item.Display} to {item.DestinationName}");
            try
            {
                var result = await MirrorOneAsync(item, layout, destinationClient, pushedTo, options, cancellationToken).ConfigureAwait(false);
                copiedImages++;
                blobsCopied += result.Copied;
                blobsSkipped += result.Skipped;
                bytes += result.Bytes;
            }
            catch (Exception e) when (e is RegistryException or ContentException or HttpRequestException or WharfException or IOException)
            {
                string line = $"{item.Display}: {e.Message}";
                failures.Add(line);
                if (!options.KeepGoing)
                {
                    return new MirrorReport(items.Count, copiedImages, blobsCopied, blobsSkipped, bytes, failures);
                }

                Log(false, $"Error: copying {line}");
            }
        }

        return new MirrorReport(items.Count, copiedImages, blobsCopied, blobsSkipped, bytes, failures);
    }

    private sealed record MirrorDestination(string? Host, string Prefix, string? Layout);

    private static MirrorDestination ParseMirrorDestination(string text)
    {
        if (text.StartsWith(DockerTransport, StringComparison.Ordinal))
        {
            string rest = text[DockerTransport.Length..].TrimEnd('/');
            int slash = rest.IndexOf('/', StringComparison.Ordinal);
            string host = slash < 0 ? rest : rest[..slash];
            string prefix = slash < 0 ? string.Empty : rest[(slash + 1)..];
            if (host.Length == 0 || !Reference.LooksLikeDomain(host) || host.Any(char.IsAsciiLetterUpper)
                || (prefix.Length > 0 && (!Reference.TryParse(host + "/" + prefix, out var r, out _) || r.Tag is not null || r.Digest is not null)))
            {
                throw new WharfException($"invalid destination \"{text}\": expected docker://HOST[:PORT][/PREFIX] with a lower-case repository prefix");
            }

            return new MirrorDestination(host, prefix, null);
        }

        if (text.StartsWith(OciTransport, StringComparison.Ordinal) && text.Length > OciTransport.Length)
        {
            string dir = text[OciTransport.Length..];
            if (File.Exists(dir))
            {
                throw new WharfException($"invalid destination \"{text}\": {dir} is a file, not an OCI layout directory");
            }

            return new MirrorDestination(null, string.Empty, dir);
        }

        throw new WharfException($"invalid destination \"{text}\": expected docker://HOST[/PREFIX] or oci:DIRECTORY");
    }

    /// <summary>The sources with where each came from (an argument, or FILE:LINE), syntax-checked.</summary>
    private static List<(string Text, string Origin)> ReadMirrorSources(MirrorOptions options)
    {
        var sources = options.Sources.Select((s, i) => (s, $"argument {i + 1}")).ToList();
        if (options.ImagesFrom is { } file)
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new WharfException($"reading --images-from {file}: {e.Message}", e);
            }

            for (int n = 0; n < lines.Length; n++)
            {
                string line = lines[n].Trim();
                if (line.Length > 0 && !line.StartsWith('#'))
                {
                    sources.Add((line, $"{file}:{n + 1}"));
                }
            }
        }

        foreach (var (text, origin) in sources)
        {
            if (text.StartsWith(OciTransport, StringComparison.Ordinal))
            {
                if (text.Length == OciTransport.Length)
                {
                    throw new WharfException($"{origin}: invalid image \"{text}\": expected oci:DIRECTORY[:REF]");
                }

                continue;
            }

            if (!Reference.TryParse(ImageNames.StripTransport(text), out _, out var error))
            {
                throw new WharfException($"{origin}: invalid image reference \"{text}\": {error}");
            }
        }

        return sources;
    }

    private async Task<List<MirrorItem>> ExpandMirrorSourceAsync(string text, string origin, MirrorDestination destination, MirrorOptions options, CancellationToken ct)
    {
        if (text.StartsWith(OciTransport, StringComparison.Ordinal))
        {
            return ExpandLayoutSource(text, origin, destination, options);
        }

        var reference = Reference.Parse(ImageNames.StripTransport(text)).Normalize();
        if (Registries.IsBlocked(reference.Name))
        {
            throw new WharfException($"{origin}: {text}: registry {reference.Domain} is blocked in {Registries.SourcesDescription}");
        }

        var references = new List<Reference>();
        if (reference.Tag is null && reference.Digest is null && options.AllTags)
        {
            using var client = CreateClient(reference.Domain!, reference.Name, options.SourceAccess);
            IReadOnlyList<string> tags;
            try
            {
                tags = await client.Repository(reference.Path).ListTagsAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RegistryException or ContentException or HttpRequestException)
            {
                throw new WharfException($"{origin}: listing the tags of {reference.Name}: {e.Message}", e);
            }

            if (tags.Count == 0)
            {
                throw new WharfException($"{origin}: {reference.Name} has no tags");
            }

            references.AddRange(tags.Select(t => reference with { Tag = t }));
        }
        else
        {
            references.Add(reference.Tag is null && reference.Digest is null ? reference with { Tag = "latest" } : reference);
        }

        return [.. references.Select(r => new MirrorItem(
            DockerTransport + r,
            async token =>
            {
                var client = CreateClient(r.Domain!, r.Name, options.SourceAccess);
                try
                {
                    var repository = client.Repository(r.Path);
                    var root = await repository.ResolveAsync(r.Digest?.ToString() ?? r.Tag!, token).ConfigureAwait(false);
                    return new MirrorSource(repository, root, client);
                }
                catch
                {
                    client.Dispose();
                    throw;
                }
            },
            MirrorDestinationName(r, destination, options.Scoped, out var target),
            target))];
    }

    private List<MirrorItem> ExpandLayoutSource(string text, string origin, MirrorDestination destination, MirrorOptions options)
    {
        // oci:DIR or oci:DIR:REF, split at the first ':' after the transport as containers-image does.
        string rest = text[OciTransport.Length..];
        int colon = rest.IndexOf(':', StringComparison.Ordinal);
        string dir = colon < 0 ? rest : rest[..colon];
        string? only = colon < 0 ? null : rest[(colon + 1)..];
        var layout = new OciLayoutTarget(dir);
        List<Descriptor> entries;
        try
        {
            entries = layout.ReadIndex();
        }
        catch (Exception e) when (e is ContentException or IOException or System.Text.Json.JsonException)
        {
            throw new WharfException($"{origin}: {text}: {e.Message}", e);
        }

        var items = new List<MirrorItem>();
        foreach (var entry in entries)
        {
            string? refName = entry.Annotations?.GetValueOrDefault(OciLayoutTarget.RefNameAnnotation);
            if (only is not null && refName != only && entry.Digest.ToString() != only)
            {
                continue;
            }

            if (refName is null || !Reference.TryParse(refName, out var named, out _) || named.Domain is null)
            {
                throw new WharfException(
                    $"{origin}: {text}: image {entry.Digest} has ref name \"{refName}\", not a full image name (HOST/REPOSITORY:TAG): cannot tell where it goes");
            }

            var descriptor = entry;
            items.Add(new MirrorItem(
                $"{OciTransport}{dir}:{refName}",
                _ => Task.FromResult(new MirrorSource(layout, descriptor, null)),
                MirrorDestinationName(named, destination, options.Scoped, out var target),
                target));
        }

        if (items.Count == 0)
        {
            throw new WharfException($"{origin}: {text}: {(only is null ? "the layout holds no images" : $"no image named \"{only}\" in the layout")}");
        }

        return items;
    }

    /// <summary>
    /// In a layout, the image's full name; in a registry, PREFIX/REPOSITORY (the source's path
    /// without its host, or with it under <c>--scoped</c>) with the same tag or digest.
    /// </summary>
    private static string MirrorDestinationName(Reference source, MirrorDestination destination, bool scoped, out Reference? target)
    {
        if (destination.Layout is not null)
        {
            target = null;
            return source.ToString();
        }

        string path = scoped ? source.Domain + "/" + source.Path : source.Path;
        if (destination.Prefix.Length > 0)
        {
            path = destination.Prefix + "/" + path;
        }

        // A host with a port is no valid path component; keep the host name readable without it.
        path = path.Replace(':', '_');
        target = new Reference(destination.Host, path, source.Tag, source.Digest);
        return target.ToString();
    }

    private sealed record MirrorOneResult(int Copied, int Skipped, long Bytes);

    private async Task<MirrorOneResult> MirrorOneAsync(
        MirrorItem item, OciLayoutTarget? layout, RegistryClient? destinationClient, ConcurrentDictionary<Digest, string> pushedTo, MirrorOptions options, CancellationToken ct)
    {
        var source = await item.Open(ct).ConfigureAwait(false);
        using var owner = source.Owner;
        ITarget destination;
        string? destinationPath = null;
        if (layout is not null)
        {
            destination = layout;
        }
        else
        {
            destinationPath = item.DestinationReference!.Path;
            destination = destinationClient!.Repository(destinationPath);
        }

        int copied = 0, skipped = 0;
        long bytes = 0;
        CopyOptions Copy(string? rootReference) => new()
        {
            RootReference = rootReference,
            IsTransient = IsTransient,
            MountCandidates = blob => pushedTo.TryGetValue(blob.Digest, out var from) && from != destinationPath ? [from] : [],
            Progress = e =>
            {
                if (e.IsManifest)
                {
                    return;
                }

                switch (e.Kind)
                {
                    case CopyEventKind.Copying:
                        break;
                    case CopyEventKind.Skipped or CopyEventKind.Mounted:
                        Interlocked.Increment(ref skipped);
                        Log(options.Quiet, $"Copying {(e.IsConfig ? "config" : "blob")} {e.Descriptor.Digest} skipped: already exists");
                        break;
                    case CopyEventKind.Copied:
                        Interlocked.Increment(ref copied);
                        Interlocked.Add(ref bytes, e.Descriptor.Size);
                        Log(options.Quiet, $"Copying {(e.IsConfig ? "config" : "blob")} {e.Descriptor.Digest} done");
                        break;
                }

                if (destinationPath is not null && e.Kind != CopyEventKind.Copying)
                {
                    pushedTo.TryAdd(e.Descriptor.Digest, destinationPath);
                }
            },
        };

        var root = source.Root;
        if (options.Platforms.Count > 0 && MediaTypes.IsIndex(root.MediaType))
        {
            byte[] indexBody = await CopyEngine.ReadManifestAsync(source.Target, root, ct).ConfigureAwait(false);
            var index = ManifestParser.Parse(indexBody, root.MediaType);
            var chosen = index.Manifests.Where(m => m.Platform is { } p && options.Platforms.Any(w => PlatformMatches(p, w))).ToList();
            if (chosen.Count == 0)
            {
                throw new WharfException($"no image in the manifest list matches {string.Join(", ", options.Platforms.Select(PlatformText))}");
            }

            if (chosen.Count == 1)
            {
                // One platform: that image's own manifest, byte for byte, under the tag.
                root = chosen[0] with { Platform = null, Annotations = null };
            }
            else
            {
                foreach (var child in chosen)
                {
                    await CopyEngine.CopyGraphAsync(source.Target, destination, child, Copy(null), ct).ConfigureAwait(false);
                }

                // Several: a new index listing only those (a new digest, necessarily).
                var json = JsonNode.Parse(indexBody)!.AsObject();
                var kept = new JsonArray();
                foreach (var node in json["manifests"]!.AsArray())
                {
                    if (chosen.Any(c => c.Digest.ToString() == (string?)node!["digest"]))
                    {
                        kept.Add(node!.DeepClone());
                    }
                }

                json["manifests"] = kept;
                byte[] body = System.Text.Encoding.UTF8.GetBytes(json.ToJsonString());
                var subset = new Descriptor { MediaType = root.MediaType, Digest = Digest.Compute(body), Size = body.Length };
                using (var content = new MemoryStream(body, writable: false))
                {
                    await destination.PushAsync(subset, content, ct).ConfigureAwait(false);
                }

                await TagMirroredAsync(destination, layout, item, subset, ct).ConfigureAwait(false);
                return new MirrorOneResult(copied, skipped, bytes);
            }
        }

        // A registry stores the root under its tag in the same PUT (children and blobs first, so the
        // tag never names an incomplete image); a layout names it in index.json afterwards.
        string? tagInRegistry = layout is null ? item.DestinationReference!.Tag : null;
        try
        {
            await CopyEngine.CopyGraphAsync(source.Target, destination, root, Copy(tagInRegistry), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RegistryException or ContentException && Unauthorized(e))
        {
            throw new WharfException($"{e.Message}; log in with \"wharf login\" to the registry that refused", e);
        }

        if (layout is not null)
        {
            await TagMirroredAsync(destination, layout, item, root, ct).ConfigureAwait(false);
        }

        return new MirrorOneResult(copied, skipped, bytes);
    }

    /// <summary>The last step of an image: its name in the layout's index, or its tag in the registry.</summary>
    private static async Task TagMirroredAsync(ITarget destination, OciLayoutTarget? layout, MirrorItem item, Descriptor root, CancellationToken ct)
    {
        if (layout is not null)
        {
            await layout.TagAsync(root with { Annotations = null, Platform = null }, item.DestinationName, ct).ConfigureAwait(false);
        }
        else if (item.DestinationReference!.Tag is { } tag)
        {
            await destination.TagAsync(root, tag, ct).ConfigureAwait(false);
        }
    }

    private static bool PlatformMatches(Platform have, Platform want) =>
        have.Os == want.Os && have.Architecture == want.Architecture && (want.Variant is null || have.Variant == want.Variant);

    private static string PlatformText(Platform p) => p.Variant is null ? $"{p.Os}/{p.Architecture}" : $"{p.Os}/{p.Architecture}/{p.Variant}";
}
