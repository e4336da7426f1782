using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine.Containers;

public sealed record CommitOptions
{
    public required string Container { get; init; }

    /// <summary>The new image's name; null leaves it unnamed.</summary>
    public string? Image { get; init; }

    public string? Message { get; init; }

    public string? Author { get; init; }

    public IReadOnlyList<string> Changes { get; init; } = [];

    /// <summary>oci (default) or docker.</summary>
    public string Format { get; init; } = "oci";

    public bool Quiet { get; init; }
}

public sealed partial class ContainerEngine
{
    /// <summary>podman container diff: A/C/D lines, sorted by path.</summary>
    public IReadOnlyList<ContainerChange> Diff(string nameOrId)
    {
        var c = Lookup(nameOrId);
        if (c.RootfsDriver == "copy")
        {
            throw new WharfException($"container {c.Name} has a copied root filesystem (no overlay): its changes cannot be listed");
        }

        return ContainerChanges.Compute(Store.Upper(c.Id), c.LowerDirs, c.ManagedMounts, c.Mounts.Select(m => m.Destination));
    }

    /// <summary>
    /// podman commit: the container's changes become one gzip layer on top of its image's layers,
    /// with a config carrying the container's settings, the -c changes and a history entry.
    /// Returns the new image ID (the config digest's hex).
    /// </summary>
    public async Task<string> CommitAsync(CommitOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Format is not ("oci" or "docker"))
        {
            throw new WharfException($"unrecognized image type \"{options.Format}\"");
        }

        bool docker = options.Format == "docker";
        var c = Lookup(options.Container);
        var source = _images.Store.ReadImages().FirstOrDefault(i => i.Id == c.ImageId)
            ?? throw new WharfException($"the image of container {c.Name} ({c.ImageId[..12]}) is no longer in the local store");
        string? name = options.Image is null ? null : ImageNames.ForNewImage(options.Image);
        if (!docker && options.Message is not null)
        {
            Log(options.Quiet, $"WARN[0000] COMMENT is not supported for OCI image format, comment {options.Message} will be ignored. Must use `docker` format");
        }

        var sourceManifest = ManifestParser.Parse(_images.Store.ReadBlob(source.Digest), source.ManifestMediaType);
        var config = JsonNode.Parse(_images.Store.ReadBlob(sourceManifest.Config!.Digest)) as JsonObject ?? [];
        var changes = Diff(c.Id);

        // The layer: a tar of the changes, hashed uncompressed (the diff ID) and compressed (the blob digest).
        string work = Path.Combine(Store.Dir(c.Id), "commit-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            string layerFile = Path.Combine(work, "layer.tar.gz");
            var (diffId, layerDigest, layerSize, tarSize) = await WriteLayerAsync(changes, layerFile, cancellationToken).ConfigureAwait(false);
            Log(options.Quiet, "Getting image source signatures");
            foreach (var d in config["rootfs"]?["diff_ids"] as JsonArray ?? [])
            {
                Log(options.Quiet, $"Copying blob {d!.GetValue<string>()}");
            }

            Log(options.Quiet, $"Copying blob {diffId}");

            var layerDescriptor = new Descriptor { MediaType = docker ? MediaTypes.DockerLayerGzip : MediaTypes.OciLayerGzip, Digest = layerDigest.ToString(), Size = layerSize };
            var layerStream = File.OpenRead(layerFile);
            await using (layerStream.ConfigureAwait(false))
            {
                await _images.Store.WriteBlobAsync(layerDescriptor, layerStream, cancellationToken).ConfigureAwait(false);
            }

            var now = DateTimeOffset.UtcNow;
            UpdateConfig(config, c, options, diffId.ToString(), source, now, docker);
            byte[] configBytes = Encoding.UTF8.GetBytes(config.ToJsonString());
            var configDigest = Digest.Compute(configBytes);
            Log(options.Quiet, $"Copying config {configDigest}");
            await _images.Store.WriteBlobAsync(
                new Descriptor { MediaType = MediaTypes.OciConfig, Digest = configDigest.ToString(), Size = configBytes.Length },
                new MemoryStream(configBytes), cancellationToken).ConfigureAwait(false);

            var layers = new JsonArray();
            foreach (var l in sourceManifest.Layers)
            {
                layers.Add(DescriptorJson(l with { MediaType = ConvertLayerType(l.MediaType, docker) }));
            }

            layers.Add(DescriptorJson(layerDescriptor));
            string manifestType = docker ? MediaTypes.DockerManifest : MediaTypes.OciManifest;
            var manifest = new JsonObject
            {
                ["schemaVersion"] = 2,
                ["mediaType"] = manifestType,
                ["config"] = new JsonObject
                {
                    ["mediaType"] = docker ? MediaTypes.DockerConfig : MediaTypes.OciConfig,
                    ["digest"] = configDigest.ToString(),
                    ["size"] = configBytes.Length,
                },
                ["layers"] = layers,
            };
            byte[] manifestBytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
            var manifestDigest = Digest.Compute(manifestBytes);
            Log(options.Quiet, "Writing manifest to image destination");
            await _images.Store.WriteBlobAsync(
                new Descriptor { MediaType = manifestType, Digest = manifestDigest.ToString(), Size = manifestBytes.Length },
                new MemoryStream(manifestBytes), cancellationToken).ConfigureAwait(false);

            long size = sourceManifest.Layers.Sum(l => _images.Store.UncompressedSize(l)) + tarSize + configBytes.Length + manifestBytes.Length;
            var record = new ImageRecord
            {
                Id = configDigest.Encoded,
                Digest = manifestDigest.ToString(),
                ManifestMediaType = manifestType,
                ManifestSize = manifestBytes.Length,
                Names = name is null ? [] : [name],
                Locations = [.. source.Locations],
                Created = now,
                Added = now,
                Size = size,
                Blobs = [configDigest.ToString(), .. sourceManifest.Layers.Select(l => l.Digest), layerDescriptor.Digest],
            };
            _images.Store.Update(images =>
            {
                if (name is not null)
                {
                    foreach (var other in images)
                    {
                        other.Names.Remove(name);
                    }
                }

                images.RemoveAll(i => i.Id == record.Id);
                images.Add(record);
                return 0;
            });
            Log(options.Quiet, "Storing signatures");
            return record.Id;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private void Log(bool quiet, string line)
    {
        if (!quiet)
        {
            Progress(line);
        }
    }

    private static string ConvertLayerType(string mediaType, bool docker) => (mediaType, docker) switch
    {
        (MediaTypes.OciLayerGzip, true) => MediaTypes.DockerLayerGzip,
        (MediaTypes.DockerLayerGzip, false) => MediaTypes.OciLayerGzip,
        (MediaTypes.OciLayerZstd or MediaTypes.OciLayerTar, true) => throw new WharfException($"a layer of type {mediaType} cannot be written in docker format"),
        _ => mediaType,
    };

    private static JsonObject DescriptorJson(Descriptor d) => new()
    {
        ["mediaType"] = d.MediaType,
        ["digest"] = d.Digest,
        ["size"] = d.Size,
    };

    private static void UpdateConfig(JsonObject config, ContainerRecord c, CommitOptions options, string diffId, ImageRecord source, DateTimeOffset now, bool docker)
    {
        string created = now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", System.Globalization.CultureInfo.InvariantCulture);
        config["created"] = created;
        if (options.Author is not null)
        {
            config["author"] = options.Author;
        }

        if (docker && options.Message is not null)
        {
            config["comment"] = options.Message;
        }

        var run = config["config"] as JsonObject ?? [];
        config["config"] = run;
        var s = c.Settings;
        run["Env"] = Arr(s.Env);
        run["Cmd"] = s.Cmd is null ? null : Arr(s.Cmd);
        run["Entrypoint"] = s.Entrypoint is null ? null : Arr(s.Entrypoint);
        run["WorkingDir"] = s.WorkingDir;
        if (s.User.Length > 0)
        {
            run["User"] = s.User;
        }

        foreach (string change in options.Changes)
        {
            ApplyChange(run, change);
        }

        if (run["Cmd"] is null)
        {
            run.Remove("Cmd");
        }

        if (run["Entrypoint"] is null)
        {
            run.Remove("Entrypoint");
        }

        var rootfs = config["rootfs"] as JsonObject ?? new JsonObject { ["type"] = "layers" };
        config["rootfs"] = rootfs;
        var diffIds = rootfs["diff_ids"] as JsonArray ?? [];
        rootfs["diff_ids"] = diffIds;
        diffIds.Add(diffId);

        var history = config["history"] as JsonArray ?? [];
        config["history"] = history;
        var entry = new JsonObject { ["created"] = created, ["created_by"] = "/bin/sh" };
        if (options.Author is not null)
        {
            entry["author"] = options.Author;
        }

        entry["comment"] = "FROM " + (source.Names.FirstOrDefault() ?? source.Id);
        history.Add(entry);
    }

    private static JsonArray Arr(IEnumerable<string> items) => new([.. items.Select(x => (JsonNode?)x)]);

    /// <summary>A Dockerfile-style instruction given with -c.</summary>
    private static void ApplyChange(JsonObject run, string change)
    {
        string trimmed = change.Trim();
        int space = trimmed.IndexOfAny([' ', '=']);
        string op = (space < 0 ? trimmed : trimmed[..space]).ToUpperInvariant();
        string arg = space < 0 ? string.Empty : trimmed[(space + 1)..].Trim();
        List<string> JsonOrShell() => arg.StartsWith('[')
            ? JsonSerializer.Deserialize(arg, ContainerCliJson.Default.ListString) ?? []
            : ["/bin/sh", "-c", arg];
        List<string> JsonOrWords() => arg.StartsWith('[')
            ? JsonSerializer.Deserialize(arg, ContainerCliJson.Default.ListString) ?? []
            : [.. arg.Split(' ', StringSplitOptions.RemoveEmptyEntries)];
        try
        {
            switch (op)
            {
                case "CMD":
                    run["Cmd"] = Arr(JsonOrShell());
                    break;
                case "ENTRYPOINT":
                    run["Entrypoint"] = Arr(JsonOrShell());
                    break;
                case "ENV":
                    {
                        var env = (run["Env"] as JsonArray)?.Select(n => n!.GetValue<string>()).ToList() ?? [];
                        foreach (var (k, v) in KeyValues(arg))
                        {
                            env.RemoveAll(e => e.StartsWith(k + "=", StringComparison.Ordinal));
                            env.Add(k + "=" + v);
                        }

                        run["Env"] = Arr(env);
                        break;
                    }

                case "LABEL":
                    {
                        var labels = run["Labels"] as JsonObject ?? [];
                        run["Labels"] = labels;
                        foreach (var (k, v) in KeyValues(arg))
                        {
                            labels[k] = v;
                        }

                        break;
                    }

                case "EXPOSE":
                    {
                        var ports = run["ExposedPorts"] as JsonObject ?? [];
                        run["ExposedPorts"] = ports;
                        foreach (string p in arg.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                        {
                            ports[p.Contains('/', StringComparison.Ordinal) ? p : p + "/tcp"] = new JsonObject();
                        }

                        break;
                    }

                case "VOLUME":
                    {
                        var volumes = run["Volumes"] as JsonObject ?? [];
                        run["Volumes"] = volumes;
                        foreach (string v in JsonOrWords())
                        {
                            volumes[v] = new JsonObject();
                        }

                        break;
                    }

                case "USER":
                    run["User"] = arg;
                    break;
                case "WORKDIR":
                    run["WorkingDir"] = arg;
                    break;
                case "STOPSIGNAL":
                    run["StopSignal"] = arg;
                    break;
                default:
                    throw new WharfException($"processing change \"{change}\": unknown change instruction \"{op}\"");
            }
        }
        catch (JsonException e)
        {
            throw new WharfException($"processing change \"{change}\": {e.Message}", e);
        }
    }

    /// <summary><c>K=V K2="v 2"</c>, or the legacy <c>K V</c>.</summary>
    private static List<(string Key, string Value)> KeyValues(string arg)
    {
        var result = new List<(string, string)>();
        int firstEq = arg.IndexOf('=', StringComparison.Ordinal), firstSpace = arg.IndexOf(' ', StringComparison.Ordinal);
        if (firstEq < 0 || (firstSpace >= 0 && firstSpace < firstEq))
        {
            if (firstSpace < 0)
            {
                throw new WharfException($"\"{arg}\": expected KEY=VALUE");
            }

            result.Add((arg[..firstSpace], arg[(firstSpace + 1)..].Trim()));
            return result;
        }

        int i = 0;
        while (i < arg.Length)
        {
            while (i < arg.Length && arg[i] == ' ')
            {
                i++;
            }

            int eq = arg.IndexOf('=', i);
            if (eq < 0)
            {
                break;
            }

            string key = arg[i..eq];
            i = eq + 1;
            var value = new StringBuilder();
            char? quote = null;
            while (i < arg.Length && (quote is not null || arg[i] != ' '))
            {
                char ch = arg[i++];
                if (quote is null && ch is '"' or '\'')
                {
                    quote = ch;
                }
                else if (quote == ch)
                {
                    quote = null;
                }
                else
                {
                    value.Append(ch);
                }
            }

            result.Add((key, value.ToString()));
        }

        return result;
    }

    /// <summary>
    /// The layer tar (image-spec layer.md): changed entries with their parents' directories,
    /// <c>.wh.NAME</c> for deletions and <c>.wh..wh..opq</c> in opaque directories.
    /// </summary>
    internal static async Task<(Digest DiffId, Digest BlobDigest, long BlobSize, long TarSize)> WriteLayerAsync(
        IReadOnlyList<ContainerChange> changes, string target, CancellationToken cancellationToken)
    {
        var file = new FileStream(target, FileMode.CreateNew, FileAccess.Write);
        using var blobHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var tarHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long tarSize;
        await using (file.ConfigureAwait(false))
        {
            var blob = new HashingWriteStream(file, blobHash);
            var gzip = new GZipStream(blob, CompressionLevel.Fastest, leaveOpen: true);
            var tar = new HashingWriteStream(gzip, tarHash);
            var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true);
            await using (writer.ConfigureAwait(false))
            {
                var written = new HashSet<string>(StringComparer.Ordinal);
                var links = new Dictionary<ulong, string>();
                foreach (var change in changes)
                {
                    await WriteParentsAsync(writer, change, changes, written, cancellationToken).ConfigureAwait(false);
                    string name = change.Path.TrimStart('/');
                    if (change.Whiteout)
                    {
                        string parent = Path.GetDirectoryName(name) ?? string.Empty;
                        string wh = (parent.Length > 0 ? parent + "/" : string.Empty) + ".wh." + Path.GetFileName(name);
                        await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, wh) { Mode = 0, ModificationTime = DateTimeOffset.UnixEpoch }, cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    await WriteEntryAsync(writer, change.HostPath, name, links, cancellationToken).ConfigureAwait(false);
                    written.Add(name);
                    if (change.Opaque)
                    {
                        await writer.WriteEntryAsync(
                            new PaxTarEntry(TarEntryType.RegularFile, name + "/.wh..wh..opq") { Mode = (UnixFileMode)0x1ED, ModificationTime = DateTimeOffset.UnixEpoch },
                            cancellationToken).ConfigureAwait(false);
                    }
                }
            }

            await tar.FlushAsync(cancellationToken).ConfigureAwait(false);
            tarSize = tar.Written;
            await gzip.DisposeAsync().ConfigureAwait(false);
            await blob.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        return (Digest.FromHasher(Digest.Sha256, tarHash), Digest.FromHasher(Digest.Sha256, blobHash), new FileInfo(target).Length, tarSize);
    }

    /// <summary>Parents of a changed entry go in first (they are in the upper dir too: overlay copies them up).</summary>
    private static async Task WriteParentsAsync(TarWriter writer, ContainerChange change, IReadOnlyList<ContainerChange> changes, HashSet<string> written, CancellationToken ct)
    {
        string[] parts = change.Path.TrimStart('/').Split('/');
        for (int i = 1; i < parts.Length; i++)
        {
            string parent = string.Join('/', parts[..i]);
            if (written.Add(parent))
            {
                string host = changes[0].HostPath[..^changes[0].Path.TrimStart('/').Length] + parent;
                await WriteEntryAsync(writer, host, parent, [], ct).ConfigureAwait(false);
            }
        }
    }

    private static async Task WriteEntryAsync(TarWriter writer, string host, string name, Dictionary<ulong, string> links, CancellationToken ct)
    {
        var st = ContainerNative.LStat(host) ?? throw new WharfException($"commit: {host} vanished while reading");
        uint fmt = st.Mode & ContainerNative.S_IFMT;
        var xattrs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string attr in ContainerNative.ListXattrs(host))
        {
            if (attr.StartsWith("trusted.overlay.", StringComparison.Ordinal))
            {
                continue;
            }

            if (ContainerNative.GetXattr(host, attr) is { } value)
            {
                xattrs["SCHILY.xattr." + attr] = Encoding.Latin1.GetString(value);
            }
        }

        TarEntryType type = fmt switch
        {
            ContainerNative.S_IFDIR => TarEntryType.Directory,
            ContainerNative.S_IFLNK => TarEntryType.SymbolicLink,
            ContainerNative.S_IFCHR => TarEntryType.CharacterDevice,
            ContainerNative.S_IFBLK => TarEntryType.BlockDevice,
            ContainerNative.S_IFIFO => TarEntryType.Fifo,
            ContainerNative.S_IFREG => TarEntryType.RegularFile,
            _ => TarEntryType.RegularFile,
        };
        if (fmt == ContainerNative.S_IFSOCK)
        {
            return; // sockets are not carried in layers
        }

        ulong inode = st.Ino;
        if (type == TarEntryType.RegularFile && st.Nlink > 1)
        {
            if (links.TryGetValue(inode, out string? first))
            {
                type = TarEntryType.HardLink;
                var link = new PaxTarEntry(type, name, xattrs) { LinkName = first };
                await writer.WriteEntryAsync(Fill(link, st), ct).ConfigureAwait(false);
                return;
            }

            links[inode] = name;
        }

        var entry = new PaxTarEntry(type, type == TarEntryType.Directory ? name + "/" : name, xattrs);
        Fill(entry, st);
        switch (type)
        {
            case TarEntryType.SymbolicLink:
                entry.LinkName = new FileInfo(host).LinkTarget ?? string.Empty;
                break;
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice:
                entry.DeviceMajor = (int)st.RdevMajor;
                entry.DeviceMinor = (int)st.RdevMinor;
                break;
            case TarEntryType.RegularFile:
                var data = new FileStream(host, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16, useAsync: true);
                await using (data.ConfigureAwait(false))
                {
                    entry.DataStream = data;
                    await writer.WriteEntryAsync(entry, ct).ConfigureAwait(false);
                }

                return;
        }

        await writer.WriteEntryAsync(entry, ct).ConfigureAwait(false);
    }

    private static PaxTarEntry Fill(PaxTarEntry entry, ContainerNative.Statx st)
    {
        entry.Mode = (UnixFileMode)(st.Mode & 0xFFF);
        entry.Uid = (int)st.Uid;
        entry.Gid = (int)st.Gid;
        entry.ModificationTime = DateTimeOffset.FromUnixTimeSeconds(st.Mtime.Seconds);
        return entry;
    }

    /// <summary>Hashes and counts bytes on their way to <paramref name="inner"/>.</summary>
    private sealed class HashingWriteStream(Stream inner, IncrementalHash hash) : Stream
    {
        public long Written { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Written;

        public override long Position { get => Written; set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            hash.AppendData(buffer);
            Written += buffer.Length;
            inner.Write(buffer);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            hash.AppendData(buffer.Span);
            Written += buffer.Length;
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
