using System.Security.Cryptography;
using Wharf.Engine.Containers;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine;

/// <summary>podman system check's flags that wharf takes.</summary>
public sealed record SystemCheckOptions
{
    /// <summary>Sizes only: no blob is read and re-hashed (podman's <c>--quick</c>).</summary>
    public bool Quick { get; init; }

    /// <summary>Remove what is damaged, and the images that need it (podman's <c>--repair</c>).</summary>
    public bool Repair { get; init; }
}

/// <summary>One thing wrong with the store: what it is (a blob, an image, a layer, a leftover) and why.</summary>
public sealed record StoreProblem(string Subject, string Detail)
{
    public override string ToString() => $"{Subject}: {Detail}";
}

/// <param name="Problems">Everything found wrong, in the order checked: blobs, images, layers, leftovers.</param>
/// <param name="Removed">With <see cref="SystemCheckOptions.Repair"/>: what was removed, one line each.</param>
public sealed record SystemCheckReport(IReadOnlyList<StoreProblem> Problems, IReadOnlyList<string> Removed)
{
    /// <summary>Whether the store is sound now: nothing was wrong, or everything wrong was removed.</summary>
    public bool Clean { get; init; }
}

/// <summary>
/// Checks the local store against itself: every blob's bytes against its name (sha256) and its
/// size against what manifests say; every image in the index against its blobs (manifest, config,
/// layers present with their sizes); every unpacked layer directory against the diff ID its
/// images' configs give it; and leftovers of processes that died mid-write.
/// </summary>
internal sealed class StoreCheck(ImageStore store, SystemCheckOptions options)
{
    private readonly List<StoreProblem> _problems = [];

    /// <summary>Blob hex → the problem with its file (wrong digest, size no reference agrees with).</summary>
    private readonly Dictionary<string, string> _badBlobs = new(StringComparer.Ordinal);

    private readonly HashSet<string> _badImages = new(StringComparer.Ordinal);

    private readonly List<string> _badLayers = [];

    private string BlobDir => Path.Combine(store.Root, "blobs", Digest.Sha256);

    private string LayerRoot => Path.Combine(store.Root, "layers");

    public SystemCheckReport Run()
    {
        // Under the store lock: no rmi, pull or commit changes the index or blobs while they are compared.
        return store.Locked(images =>
        {
            var expected = ExpectedSizes(images);
            CheckBlobs(expected);
            var chainDiffIds = CheckImages(images);
            CheckLayers(chainDiffIds);
            var leftovers = store.Leftovers();
            foreach (string path in leftovers)
            {
                _problems.Add(new StoreProblem(Path.GetRelativePath(store.Root, path), "left behind by a wharf process that did not finish"));
            }

            if (!options.Repair || _problems.Count == 0)
            {
                return new SystemCheckReport(_problems, []) { Clean = _problems.Count == 0 };
            }

            return new SystemCheckReport(_problems, Repair()) { Clean = true };
        });
    }

    /// <summary>Blob hex → every size a reference to it states (the index for manifests, manifests for the rest).</summary>
    private Dictionary<string, HashSet<long>> ExpectedSizes(List<ImageRecord> images)
    {
        var sizes = new Dictionary<string, HashSet<long>>(StringComparer.Ordinal);
        void Add(string digest, long size)
        {
            if (Digest.TryParse(digest, out var d))
            {
                (sizes.TryGetValue(d.Encoded, out var set) ? set : sizes[d.Encoded] = []).Add(size);
            }
        }

        foreach (var image in images)
        {
            if (image.ManifestSize > 0)
            {
                Add(image.Digest, image.ManifestSize);
            }

            if (TryManifest(image, out var manifest, out _))
            {
                foreach (var blob in manifest.Blobs)
                {
                    Add(blob.Digest.ToString(), blob.Size);
                }
            }
        }

        return sizes;
    }

    private void CheckBlobs(Dictionary<string, HashSet<long>> expected)
    {
        if (!Directory.Exists(BlobDir))
        {
            return;
        }

        foreach (string file in Directory.EnumerateFiles(BlobDir).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(file);
            if (name.EndsWith(".usize", StringComparison.Ordinal))
            {
                continue;
            }

            if (!Digest.TryParse(Digest.Sha256 + ":" + name, out _))
            {
                Bad(name, $"blob sha256:{name}", "not a blob name");
                continue;
            }

            long size = new FileInfo(file).Length;
            if (expected.TryGetValue(name, out var sizes) && !sizes.Contains(size))
            {
                Bad(name, $"blob sha256:{name}", $"{size} bytes, its manifest says {string.Join(" or ", sizes)}");
                continue;
            }

            if (!options.Quick)
            {
                string actual = Hash(file);
                if (actual != name)
                {
                    Bad(name, $"blob sha256:{name}", $"its content has digest sha256:{actual}");
                }
            }
        }
    }

    private void Bad(string hex, string subject, string detail)
    {
        _badBlobs[hex] = detail;
        _problems.Add(new StoreProblem(subject, detail));
    }

    private static string Hash(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Checks each image's blobs; returns chain ID hex → diff ID for the layers of the sound ones.</summary>
    private Dictionary<string, string> CheckImages(List<ImageRecord> images)
    {
        var chainDiffIds = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var image in images)
        {
            string subject = "image " + image.ShortId + (image.Names.Count > 0 ? " (" + string.Join(", ", image.Names) + ")" : string.Empty);
            var manifestRef = LocalImageTarget.ManifestDescriptor(image);
            if (BlobProblem(manifestRef, "manifest") is { } manifestProblem)
            {
                ImageProblem(image, subject, manifestProblem);
                continue;
            }

            if (!TryManifest(image, out var manifest, out string? error))
            {
                ImageProblem(image, subject, $"manifest {image.Digest}: {error}");
                continue;
            }

            if (manifest.Config is null)
            {
                ImageProblem(image, subject, $"manifest {image.Digest} names no config");
                continue;
            }

            bool sound = true;
            foreach (var (blob, what) in manifest.Layers.Select(l => (l, "layer")).Prepend((manifest.Config, "config")))
            {
                if (BlobProblem(blob, what) is { } problem)
                {
                    ImageProblem(image, subject, problem);
                    sound = false;
                }
            }

            if (sound && DiffIds(image, manifest) is { } diffIds)
            {
                var chainIds = LayerStore.ChainIds(diffIds);
                for (int i = 0; i < chainIds.Count; i++)
                {
                    chainDiffIds[Digest.Parse(chainIds[i]).Encoded] = diffIds[i];
                }
            }
        }

        return chainDiffIds;
    }

    private void ImageProblem(ImageRecord image, string subject, string detail)
    {
        _badImages.Add(image.Id);
        _problems.Add(new StoreProblem(subject, detail));
    }

    /// <summary>Why <paramref name="blob"/> cannot be used as the manifest says, or null.</summary>
    private string? BlobProblem(Descriptor blob, string what)
    {
        // The manifest parser validated the digest already: a descriptor only holds a valid one.
        var digest = blob.Digest;
        var info = new FileInfo(store.BlobPath(blob.Digest));
        if (!info.Exists)
        {
            return $"{what} blob {blob.Digest} is missing";
        }

        if (blob.Size > 0 && info.Length != blob.Size)
        {
            return $"{what} blob {blob.Digest} has {info.Length} bytes, the manifest says {blob.Size}";
        }

        return _badBlobs.ContainsKey(digest.Encoded) ? $"{what} blob {blob.Digest} is damaged" : null;
    }

    private bool TryManifest(ImageRecord image, out ParsedManifest manifest, out string? error)
    {
        manifest = null!;
        error = null;
        try
        {
            manifest = ManifestParser.Parse(store.ReadBlob(image.Digest), image.ManifestMediaType);
            return true;
        }
        catch (Exception e) when (e is OciException or IOException or FormatException or ArgumentException)
        {
            error = e.Message;
            return false;
        }
    }

    private IReadOnlyList<string>? DiffIds(ImageRecord image, ParsedManifest manifest)
    {
        try
        {
            return Images.ImageRootFs.DiffIds(System.Text.Json.Nodes.JsonNode.Parse(store.ReadBlob(manifest.Config!.Digest)), manifest.Layers.Count, image.ShortId);
        }
        catch (Exception e) when (e is WharfException or System.Text.Json.JsonException or IOException)
        {
            // A config the engine refuses to run (and says why at create): its layers are never unpacked.
            return null;
        }
    }

    /// <summary>layers/&lt;chainid&gt;: a diff directory and a diffid file that agrees with the images using it.</summary>
    private void CheckLayers(Dictionary<string, string> chainDiffIds)
    {
        if (!Directory.Exists(LayerRoot))
        {
            return;
        }

        foreach (string dir in Directory.EnumerateDirectories(LayerRoot).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(dir);
            if (name is "tmp" or "pulled")
            {
                continue;
            }

            string subject = "layer " + name;
            string diffIdFile = Path.Combine(dir, "diffid");
            string? problem = null;
            if (!Digest.TryParse(Digest.Sha256 + ":" + name, out _))
            {
                problem = "not a chain ID";
            }
            else if (!Directory.Exists(Path.Combine(dir, "diff")))
            {
                problem = "its diff directory is missing";
            }
            else if (!File.Exists(diffIdFile))
            {
                problem = "its diffid record is missing";
            }
            else
            {
                string recorded = File.ReadAllText(diffIdFile).Trim();
                if (!Digest.TryParse(recorded, out _))
                {
                    problem = $"its diffid record \"{recorded}\" is not a digest";
                }
                else if (chainDiffIds.TryGetValue(name, out string? diffId) && diffId != recorded)
                {
                    problem = $"unpacked with diff ID {recorded}, its image says {diffId}";
                }
            }

            if (problem is not null)
            {
                _badLayers.Add(dir);
                _problems.Add(new StoreProblem(subject, problem));
            }
        }
    }

    /// <summary>
    /// Removes the damaged blobs and layers, the images that need them, and the leftovers; then the
    /// blobs only those images held. Images leave the index first, so no image is ever listed
    /// without its blobs, even if this is interrupted.
    /// </summary>
    private List<string> Repair()
    {
        var removed = new List<string>();
        var images = store.ReadLocalImages();
        var broken = images.Where(i => _badImages.Contains(i.Id) || i.Blobs.Append(i.Digest).Any(b => Digest.TryParse(b, out var d) && _badBlobs.ContainsKey(d.Encoded))).ToList();
        if (broken.Count > 0)
        {
            store.ReplaceIndexLocked(images.Except(broken).ToList());
            removed.AddRange(broken.Select(i => $"image {i.Id}" + (i.Names.Count > 0 ? " (" + string.Join(", ", i.Names) + ")" : string.Empty)));
        }

        foreach (string hex in _badBlobs.Keys)
        {
            File.Delete(Path.Combine(BlobDir, hex));
            File.Delete(Path.Combine(BlobDir, hex + ".usize"));
            removed.Add($"blob sha256:{hex}");
        }

        foreach (string dir in _badLayers)
        {
            Directory.Delete(dir, recursive: true);
            removed.Add("layer " + Path.GetFileName(dir));
        }

        removed.AddRange(store.RemoveLeftovers().Select(p => Path.GetRelativePath(store.Root, p)));
        store.CollectGarbage(store.ReadLocalImages());
        return removed;
    }
}
