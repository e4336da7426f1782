using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Content;
using Wharf.Engine.Images;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine;

/// <param name="Format">docker-archive, oci-archive or oci-dir.</param>
/// <param name="Path">The file (or directory for oci-dir); null writes to <paramref name="Output"/>.</param>
public sealed record SaveOptions(IReadOnlyList<string> Images, string Format, string? Path, Stream? Output, bool Quiet);

public sealed record LoadOptions(string? Path, Stream? Input, bool Quiet);

public sealed record LoadReport(IReadOnlyList<string> Names);

public sealed partial class LocalImages
{
    private static readonly DateTimeOffset Epoch = DateTimeOffset.UnixEpoch;

    /// <summary>
    /// podman save: docker-archive (uncompressed layers named by diff ID, config, manifest.json,
    /// as docker load expects), oci-archive (an OCI layout in a tar) or oci-dir (the layout itself).
    /// </summary>
    public async Task SaveAsync(SaveOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        await SaveImagesAsync(options, cancellationToken).ConfigureAwait(false);
        foreach (string n in options.Images)
        {
            Events.Image("save", LookupImage(n).Id, n);
        }
    }

    private async Task SaveImagesAsync(SaveOptions options, CancellationToken cancellationToken)
    {
        var images = options.Images.Select(n => (Input: n, Image: LookupImage(n))).ToList();
        switch (options.Format)
        {
            case "docker-archive":
                await WithOutputAsync(options, stream => SaveDockerArchiveAsync(images, stream, options.Quiet, cancellationToken)).ConfigureAwait(false);
                break;
            case "oci-archive":
                await WithOutputAsync(options, async stream =>
                {
                    string dir = Path.Combine(Store.Root, "tmp", $"{System.Environment.ProcessId}-save-{Guid.NewGuid():N}");
                    try
                    {
                        await SaveOciDirAsync(images, dir, options.Quiet, cancellationToken).ConfigureAwait(false);
                        await WriteDirectoryTarAsync(dir, stream, cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        if (Directory.Exists(dir))
                        {
                            Directory.Delete(dir, recursive: true);
                        }
                    }
                }).ConfigureAwait(false);
                break;
            case "oci-dir":
                await SaveOciDirAsync(images, options.Path ?? throw new WharfException("oci-dir needs a directory: use -o"), options.Quiet, cancellationToken).ConfigureAwait(false);
                break;
            default:
                throw new WharfException($"unsupported format \"{options.Format}\": use docker-archive, oci-archive or oci-dir");
        }
    }

    private static async Task WithOutputAsync(SaveOptions options, Func<Stream, Task> write)
    {
        if (options.Path is null)
        {
            await write(options.Output ?? throw new WharfException("no output given")).ConfigureAwait(false);
            return;
        }

        string full = Path.GetFullPath(options.Path);
        string temp = full + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write);
            await using (file.ConfigureAwait(false))
            {
                await write(file).ConfigureAwait(false);
            }

            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private async Task SaveOciDirAsync(List<(string Input, ImageRecord Image)> images, string dir, bool quiet, CancellationToken ct)
    {
        var layout = new OciLayoutTarget(dir).Initialize();
        var source = new LocalImageTarget(Store, Options.Time);
        foreach (var (input, image) in images)
        {
            var manifest = LocalImageTarget.ManifestDescriptor(image);
            await CopyEngine.CopyGraphAsync(source, layout, manifest, new CopyOptions
            {
                Progress = e =>
                {
                    if (e.Kind == CopyEventKind.Copying)
                    {
                        Log(quiet, $"Copying {(e.IsConfig ? "config" : "blob")} {e.Descriptor.Digest}");
                    }
                },
            }, ct).ConfigureAwait(false);
            string refName = NameFor(input, image) ?? image.Id;
            await layout.TagAsync(manifest, refName, ct).ConfigureAwait(false);
        }

        Log(quiet, "Writing manifest to image destination");
    }

    /// <summary>The name the user gave when it is one of the image's names, else its first name.</summary>
    private string? NameFor(string input, ImageRecord image)
    {
        try
        {
            return ResolveOwnName(image, input);
        }
        catch (WharfException)
        {
            return image.Names.FirstOrDefault();
        }
    }

    private async Task SaveDockerArchiveAsync(List<(string Input, ImageRecord Image)> images, Stream output, bool quiet, CancellationToken ct)
    {
        var manifestJson = new JsonArray();
        var written = new HashSet<string>(StringComparer.Ordinal);
        var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        await using (writer.ConfigureAwait(false))
        {
            foreach (var (input, image) in images)
            {
                var manifest = ManifestParser.Parse(Store.ReadBlob(image.Digest), image.ManifestMediaType);
                byte[] config = Store.ReadBlob(manifest.Config!.Digest);
                ImageConfig? configModel;
                try
                {
                    configModel = JsonSerializer.Deserialize(config, OciJsonContext.Default.ImageConfig);
                }
                catch (JsonException e)
                {
                    throw new WharfException($"{input}: image {image.ShortId} is damaged: its config {manifest.Config.Digest} is not valid JSON ({e.Message}); \"wharf pull\" fetches it again", e);
                }

                var diffIds = configModel?.RootFs.DiffIds ?? [];
                if (diffIds.Count != manifest.Layers.Count)
                {
                    throw new WharfException($"{input}: config lists {diffIds.Count} layers, manifest {manifest.Layers.Count}");
                }

                var layerNames = new JsonArray();
                for (int i = 0; i < manifest.Layers.Count; i++)
                {
                    var layer = manifest.Layers[i];
                    string diffHex = Digest.Parse(diffIds[i]).Encoded;
                    string entry = diffHex + ".tar";
                    layerNames.Add((JsonNode)JsonValue.Create(entry));
                    if (!written.Add(entry))
                    {
                        continue;
                    }

                    Log(quiet, $"Copying blob {layer.Digest}");
                    await WriteLayerEntryAsync(writer, entry, layer, diffIds[i], ct).ConfigureAwait(false);
                }

                string configName = manifest.Config.Digest.Encoded + ".json";
                if (written.Add(configName))
                {
                    Log(quiet, $"Copying config {manifest.Config.Digest}");
                    await WriteBytesEntryAsync(writer, configName, config, ct).ConfigureAwait(false);
                }

                string? name = NameFor(input, image);
                manifestJson.Add((JsonNode)new JsonObject
                {
                    ["Config"] = configName,
                    ["RepoTags"] = name is null ? new JsonArray() : new JsonArray(name),
                    ["Layers"] = layerNames,
                });
            }

            Log(quiet, "Writing manifest to image destination");
            await WriteBytesEntryAsync(writer, "manifest.json", System.Text.Encoding.UTF8.GetBytes(manifestJson.ToJsonString()), ct).ConfigureAwait(false);
        }
    }

    private async Task WriteLayerEntryAsync(TarWriter writer, string entryName, Descriptor layer, string diffId, CancellationToken ct)
    {
        // The tar header needs the size first: decompress to a temporary file, checking the diff ID.
        string temp = Path.Combine(Store.Root, "tmp", $"{System.Environment.ProcessId}-layer-{Guid.NewGuid():N}");
        try
        {
            using (var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write);
                await using (file.ConfigureAwait(false))
                {
                    var blob = Store.OpenBlob(layer.Digest);
                    await using (blob.ConfigureAwait(false))
                    {
                        Stream source = IsCompressed(blob) ? new GZipStream(blob, CompressionMode.Decompress, leaveOpen: true) : blob;
                        byte[] buffer = new byte[1 << 16];
                        int n;
                        while ((n = await source.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
                        {
                            hasher.AppendData(buffer, 0, n);
                            await file.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                        }
                    }
                }

                var actual = Digest.FromHasher(Digest.Sha256, hasher).ToString();
                if (actual != diffId)
                {
                    throw new WharfException($"layer {layer.Digest}: uncompressed content is {actual}, the config says {diffId}");
                }
            }

            var data = new FileStream(temp, FileMode.Open, FileAccess.Read);
            await using (data.ConfigureAwait(false))
            {
                var entry = new PaxTarEntry(TarEntryType.RegularFile, entryName)
                {
                    DataStream = data,
                    Mode = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                    ModificationTime = Epoch,
                };
                await writer.WriteEntryAsync(entry, ct).ConfigureAwait(false);
            }
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static bool IsCompressed(Stream seekable)
    {
        Span<byte> magic = stackalloc byte[2];
        int n = seekable.Read(magic);
        seekable.Position = 0;
        return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    private static async Task WriteBytesEntryAsync(TarWriter writer, string name, byte[] bytes, CancellationToken ct)
    {
        var entry = new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = new MemoryStream(bytes),
            Mode = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            ModificationTime = Epoch,
        };
        await writer.WriteEntryAsync(entry, ct).ConfigureAwait(false);
    }

    private static async Task WriteDirectoryTarAsync(string dir, Stream output, CancellationToken ct)
    {
        var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        await using (writer.ConfigureAwait(false))
        {
            foreach (string file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                string name = Path.GetRelativePath(dir, file).Replace('\\', '/');
                var data = new FileStream(file, FileMode.Open, FileAccess.Read);
                await using (data.ConfigureAwait(false))
                {
                    await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, name)
                    {
                        DataStream = data,
                        Mode = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                        ModificationTime = Epoch,
                    }, ct).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>
    /// podman load: a docker-archive, an oci-archive or an OCI layout directory. The archive is
    /// unpacked into the store's tmp/ (entry names checked to stay inside), then copied in; image
    /// IDs are kept (same config digest).
    /// </summary>
    public async Task<LoadReport> LoadAsync(LoadOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var report = await LoadArchiveAsync(options, cancellationToken).ConfigureAwait(false);
        foreach (string name in report.Names)
        {
            Events.Image("load", null, name);
        }

        return report;
    }

    private async Task<LoadReport> LoadArchiveAsync(LoadOptions options, CancellationToken cancellationToken)
    {
        if (options.Path is { } p && Directory.Exists(p))
        {
            return await LoadOciDirAsync(p, options.Quiet, cancellationToken).ConfigureAwait(false);
        }

        Directory.CreateDirectory(Path.Combine(Store.Root, "tmp"));
        string dir = Path.Combine(Store.Root, "tmp", $"{System.Environment.ProcessId}-load-{Guid.NewGuid():N}");
        try
        {
            if (options.Path is { } path)
            {
                if (!File.Exists(path))
                {
                    throw new WharfException($"payload does not match any of the supported image formats:\n * oci: open {path}: no such file or directory");
                }

                var file = new FileStream(path, FileMode.Open, FileAccess.Read);
                await using (file.ConfigureAwait(false))
                {
                    await ExtractAsync(file, dir, cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                await ExtractAsync(options.Input ?? throw new WharfException("no input given"), dir, cancellationToken).ConfigureAwait(false);
            }

            if (File.Exists(Path.Combine(dir, "oci-layout")))
            {
                return await LoadOciDirAsync(dir, options.Quiet, cancellationToken).ConfigureAwait(false);
            }

            if (File.Exists(Path.Combine(dir, "manifest.json")))
            {
                return await LoadDockerArchiveAsync(dir, options.Quiet, cancellationToken).ConfigureAwait(false);
            }

            throw new WharfException("payload does not match any of the supported image formats (oci-archive, docker-archive, oci-dir)");
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    private static async Task ExtractAsync(Stream input, string dir, CancellationToken ct)
    {
        Directory.CreateDirectory(dir);
        string root = Path.GetFullPath(dir) + Path.DirectorySeparatorChar;
        Stream source = input;
        var buffered = new BufferedStream(input, 1 << 16);
        var reader = new TarReader(buffered, leaveOpen: true);
        await using (reader.ConfigureAwait(false))
        {
            TarEntry? entry;
            try
            {
                entry = await reader.GetNextEntryAsync(copyData: false, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
            {
                // One line for a file that is no archive at all (a script's wrong path, a text file).
                throw new WharfException("payload does not match any of the supported image formats (docker-archive, oci-archive, oci-dir): not a tar archive", e);
            }

            for (; entry is not null; entry = await reader.GetNextEntryAsync(copyData: false, ct).ConfigureAwait(false))
            {
                string target = Path.GetFullPath(Path.Combine(dir, entry.Name));
                if (!target.StartsWith(root, StringComparison.Ordinal))
                {
                    throw new WharfException($"archive entry \"{entry.Name}\" points outside the archive");
                }

                // Only regular files matter for either format; legacy v1 symlinks are skipped.
                if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && entry.DataStream is not null)
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    var file = new FileStream(target, FileMode.Create, FileAccess.Write);
                    await using (file.ConfigureAwait(false))
                    {
                        await entry.DataStream.CopyToAsync(file, ct).ConfigureAwait(false);
                    }
                }
            }
        }

        _ = source;
    }

    private async Task<LoadReport> LoadOciDirAsync(string dir, bool quiet, CancellationToken ct)
    {
        var layout = new OciLayoutTarget(dir);
        var names = new List<string>();
        Log(quiet, "Getting image source signatures");
        foreach (var entry in layout.ReadIndex())
        {
            var target = new LocalImageTarget(Store, Options.Time);
            var root = await CopyEngine.CopyGraphAsync(layout, target, entry, new CopyOptions
            {
                SelectManifest = ms => RegistryImages.SelectPlatform(ms, new PullOptions { Reference = "load" }),
                Progress = e =>
                {
                    if (e.Kind == CopyEventKind.Copying)
                    {
                        Log(quiet, $"Copying {(e.IsConfig ? "config" : "blob")} {e.Descriptor.Digest}");
                    }
                },
            }, ct).ConfigureAwait(false);
            string? refName = entry.Annotations?.GetValueOrDefault(OciLayoutTarget.RefNameAnnotation);
            string? name = refName is not null && Reference.TryParse(refName, out var r, out _) && (r.Domain is not null || r.Tag is not null || r.Path.Contains('/', StringComparison.Ordinal))
                ? ImageNames.ForNewImage(refName)
                : null;
            await LayerCheck.VerifyImageAsync(Store, root, ct).ConfigureAwait(false);
            Log(quiet, "Writing manifest to image destination");
            var record = target.Register(root, name);
            names.Add(name ?? "sha256:" + record.Id);
        }

        return new LoadReport(names);
    }

    private async Task<LoadReport> LoadDockerArchiveAsync(string dir, bool quiet, CancellationToken ct)
    {
        JsonArray manifests;
        try
        {
            manifests = JsonNode.Parse(await File.ReadAllBytesAsync(Path.Combine(dir, "manifest.json"), ct).ConfigureAwait(false)) as JsonArray
                ?? throw new WharfException("manifest.json is not an array");
        }
        catch (JsonException e)
        {
            throw new WharfException($"loading docker-archive: manifest.json: {e.Message}", e);
        }

        var names = new List<string>();
        Log(quiet, "Getting image source signatures");
        foreach (var item in manifests.OfType<JsonObject>())
        {
            string configName = item["Config"]?.GetValue<string>() ?? throw new WharfException("manifest.json entry has no Config");
            byte[] config = await File.ReadAllBytesAsync(SafeJoin(dir, configName), ct).ConfigureAwait(false);
            string configDigest = Digest.Compute(config).ToString();
            var layerNames = (item["Layers"] as JsonArray ?? []).Select(l => l!.GetValue<string>()).ToList();
            var diffIds = ArchiveDiffIds(config, layerNames.Count, configName);
            var writer = new ImageWriter(Store);
            try
            {
                var layers = new List<Descriptor>();
                for (int i = 0; i < layerNames.Count; i++)
                {
                    // Each layer is read back end to end against the config's diff ID before it is stored.
                    var (layer, _) = await writer.WriteLayerAsync(SafeJoin(dir, layerNames[i]), diffIds[i], layerNames[i], ct).ConfigureAwait(false);
                    Log(quiet, $"Copying blob {layer.Digest}");
                    layers.Add(layer);
                }

                Log(quiet, $"Copying config {configDigest}");

                // The archive's config bytes are stored as they are, so the image keeps its ID.
                var written = await writer.WriteConfigAsync(config, ImageFormat.Oci, ct).ConfigureAwait(false);
                var manifest = (await writer.WriteManifestAsync(written, layers, ImageFormat.Oci, null, ct).ConfigureAwait(false)).Manifest;
                Log(quiet, "Writing manifest to image destination");
                var target = new LocalImageTarget(Store, Options.Time);
                var tags = (item["RepoTags"] as JsonArray ?? []).Select(t => t!.GetValue<string>()).ToList();
                if (tags.Count == 0)
                {
                    var record = target.Register(manifest, null);
                    names.Add("sha256:" + record.Id);
                }

                foreach (string tag in tags)
                {
                    string name = ImageNames.ForNewImage(tag);
                    target.Register(manifest, name);
                    names.Add(name);
                }
            }
            finally
            {
                // The blobs were held against a concurrent rmi until the image was recorded (or failed).
                writer.Release();
            }
        }

        return new LoadReport(names);
    }

    /// <summary>The diff IDs a docker-archive's config lists, one per layer the archive names.</summary>
    private static IReadOnlyList<Digest> ArchiveDiffIds(byte[] config, int layerCount, string configName)
    {
        try
        {
            return [.. ImageRootFs.DiffIds(JsonNode.Parse(config), layerCount, configName).Select(Digest.Parse)];
        }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentException)
        {
            throw new WharfException($"loading docker-archive: {configName}: {e.Message}", e);
        }
    }

    private static string SafeJoin(string dir, string name)
    {
        string root = Path.GetFullPath(dir) + Path.DirectorySeparatorChar;
        string full = Path.GetFullPath(Path.Combine(dir, name));
        return full.StartsWith(root, StringComparison.Ordinal) ? full : throw new WharfException($"archive names \"{name}\" outside itself");
    }
}
