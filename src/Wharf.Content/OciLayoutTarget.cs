using System.Text.Json;
using Wharf.Oci;

namespace Wharf.Content;

/// <summary>
/// An OCI image layout directory (image-spec image-layout.md):
/// <code>
/// oci-layout            {"imageLayoutVersion": "1.0.0"}
/// index.json            an image index; refs are the org.opencontainers.image.ref.name annotation
/// blobs/&lt;alg&gt;/&lt;hex&gt;   every manifest, config and layer, by digest
/// </code>
/// Blobs are written to a temporary name beside their final one
/// (<c>blobs/sha256/&lt;hex&gt;.partial-&lt;pid&gt;-&lt;id&gt;</c>), verified, flushed to disk and
/// renamed, so a blob under its digest is always whole; <see cref="Initialize"/> removes the
/// partial files of writers that are gone (a killed copy to removable media). index.json is
/// replaced the same way, after the blobs it names.
/// </summary>
public sealed class OciLayoutTarget : ITarget
{
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";
    private readonly string _root;
    private readonly Lock _indexLock = new();

    public OciLayoutTarget(string root)
    {
        _root = Path.GetFullPath(root);
    }

    public string Root => _root;

    /// <summary>Creates the layout files when missing.</summary>
    public OciLayoutTarget Initialize()
    {
        Directory.CreateDirectory(Path.Combine(_root, "blobs", Digest.Sha256));
        string layout = Path.Combine(_root, "oci-layout");
        if (!File.Exists(layout))
        {
            File.WriteAllText(layout, "{\"imageLayoutVersion\":\"1.0.0\"}");
        }

        if (!File.Exists(IndexPath))
        {
            WriteIndex([]);
        }

        SweepPartials();
        return this;
    }

    /// <summary>Removes partial blobs and index files whose writing process has exited; returns how many.</summary>
    public int SweepPartials()
    {
        int removed = 0;
        var candidates = Directory.Exists(Path.Combine(_root, "blobs"))
            ? Directory.EnumerateDirectories(Path.Combine(_root, "blobs")).SelectMany(d => Directory.EnumerateFiles(d, "*" + PartialMarker + "*"))
            : [];
        foreach (string file in candidates.Concat(Directory.EnumerateFiles(_root, "index.json" + PartialMarker + "*")).ToList())
        {
            string name = Path.GetFileName(file);
            string rest = name[(name.IndexOf(PartialMarker, StringComparison.Ordinal) + PartialMarker.Length)..];
            int dash = rest.IndexOf('-', StringComparison.Ordinal);
            if (dash > 0 && int.TryParse(rest[..dash], out int pid) && !ProcessAlive(pid))
            {
                File.Delete(file);
                removed++;
            }
        }

        return removed;
    }

    private const string PartialMarker = ".partial-";

    private static string PartialName(string final) => $"{final}{PartialMarker}{Environment.ProcessId}-{Guid.NewGuid():N}";

    private static bool ProcessAlive(int pid) => pid == Environment.ProcessId || Directory.Exists($"/proc/{pid}");

    private string IndexPath => Path.Combine(_root, "index.json");

    public string BlobPath(Digest digest) => Path.Combine(_root, "blobs", digest.Algorithm, digest.Encoded);

    public Task<bool> ExistsAsync(Descriptor descriptor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        var info = new FileInfo(BlobPath(descriptor.Digest));
        return Task.FromResult(info.Exists && info.Length == descriptor.Size);
    }

    public Task<Stream> FetchAsync(Descriptor descriptor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        string path = BlobPath(descriptor.Digest);
        if (!File.Exists(path))
        {
            throw new ContentNotFoundException($"{descriptor.Digest}: blob not found in {_root}");
        }

        return Task.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true));
    }

    public async Task PushAsync(Descriptor descriptor, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(content);
        string final = BlobPath(descriptor.Digest);
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        string temp = PartialName(final);
        try
        {
            var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await using (file.ConfigureAwait(false))
            {
                await using var verifying = new VerifyingStream(content, descriptor, leaveOpen: true);
                await verifying.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }

            File.Move(temp, final, overwrite: true);
            Layers.LayerNative.SyncDirectory(Path.GetDirectoryName(final)!);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public async Task<Descriptor> ResolveAsync(string reference, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var manifests = ReadIndex();
        foreach (var m in manifests)
        {
            if (m.Digest.ToString() == reference || (m.Annotations is { } a && a.TryGetValue(RefNameAnnotation, out var name) && name == reference))
            {
                return m;
            }
        }

        if (reference.Length == 0 && manifests.Count == 1)
        {
            return manifests[0];
        }

        if (Digest.TryParse(reference, out var digest))
        {
            var info = new FileInfo(BlobPath(digest));
            if (info.Exists)
            {
                byte[] body = await File.ReadAllBytesAsync(info.FullName, cancellationToken).ConfigureAwait(false);
                var parsed = ManifestParser.Parse(body, null);
                return new Descriptor { MediaType = parsed.MediaType, Digest = digest, Size = body.Length };
            }
        }

        throw new ContentNotFoundException($"{reference}: not found in OCI layout {_root}");
    }

    public Task TagAsync(Descriptor descriptor, string reference, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        lock (_indexLock)
        {
            var manifests = ReadIndex();
            var entry = descriptor with
            {
                Platform = null,
                Annotations = new Dictionary<string, string>(descriptor.Annotations ?? new Dictionary<string, string>()) { [RefNameAnnotation] = reference },
            };
            manifests.RemoveAll(m => m.Annotations is { } a && a.TryGetValue(RefNameAnnotation, out var n) && n == reference);
            manifests.Add(entry);
            WriteIndex(manifests);
        }

        return Task.CompletedTask;
    }

    /// <summary>The index entries, in file order.</summary>
    public List<Descriptor> ReadIndex()
    {
        if (!File.Exists(IndexPath))
        {
            throw new ContentNotFoundException($"{_root} is not an OCI layout: index.json is missing");
        }

        var index = JsonSerializer.Deserialize(File.ReadAllBytes(IndexPath), OciJsonContext.Default.ImageIndex)
            ?? throw new ContentException($"{IndexPath}: empty index");
        return [.. index.Manifests];
    }

    private void WriteIndex(List<Descriptor> manifests)
    {
        var index = new ImageIndex { SchemaVersion = 2, MediaType = MediaTypes.OciIndex, Manifests = manifests };
        string temp = PartialName(IndexPath);
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                file.Write(JsonSerializer.SerializeToUtf8Bytes(index, OciJsonContext.Default.ImageIndex));
                file.Flush(flushToDisk: true);
            }

            File.Move(temp, IndexPath, overwrite: true);
            Layers.LayerNative.SyncDirectory(_root);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
