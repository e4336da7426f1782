using System.Text.Json.Nodes;
using Wharf.Client.Processes;
using Wharf.Engine.Containers;
using Wharf.Engine.Images;
using Wharf.Oci;

namespace Wharf.Engine.Storage;

/// <summary>
/// The writer's side of a shared image store (docs/shared-store.md): a directory laid out as a
/// graphroot, which <c>additionalimagestores</c> names so that every node reads it. Layout:
/// <code>
/// &lt;DIR&gt;/wharf/
///   images.json              the index: the published images, replaced by rename as the last step
///   images.lock              flock held by a publish or unpublish for its whole run; readers never take it
///   blobs/sha256/&lt;hex&gt;       manifests, configs and compressed layers, each stored once
///   layers/&lt;chainid-hex&gt;/     one per layer chain, shared by every image built on it
///     diff/                  the unpacked layer: an overlay lower dir, whiteouts as 0/0 char devices
///     diffid                 the layer's diff ID
///     layer.squashfs         the same layer as one squashfs file (publish --format squashfs)
///   tmp/                     staging; everything in it is garbage once no publisher holds the lock
/// </code>
/// A publish stages each missing blob and layer in <c>tmp/</c> (the same filesystem), syncs it and
/// renames it to its final name, then replaces <c>images.json</c> by rename: a reader that reads
/// the index sees an image only once all of its content is in place. A crash leaves the old index
/// and garbage that the next publish or unpublish sweeps (staging in <c>tmp/</c>, blobs and
/// layers no published image refers to). Directories are 0755 and blobs 0644: every user of
/// the cluster reads the store, only the publisher writes it.
/// </summary>
public sealed class SharedStore
{
    private const UnixFileMode Open = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    public SharedStore(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        Location = Path.GetFullPath(directory);
        Images = new ImageStore(Location);
    }

    /// <summary>The directory <c>additionalimagestores</c> names.</summary>
    public string Location { get; }

    /// <summary>The store as readers see it.</summary>
    public ImageStore Images { get; }

    private string Root => Images.Root;

    private string TempDir => Path.Combine(Root, "tmp");

    private string LayersDir => Path.Combine(Root, "layers");

    public string LayerDir(string chainId) => Path.Combine(LayersDir, Digest.Parse(chainId).Encoded);

    /// <summary>Whether the store holds the layer in <paramref name="format"/> (<see cref="PublishFormats"/>).</summary>
    public bool HasLayer(string chainId, string format) => format == PublishFormats.Squashfs
        ? File.Exists(Path.Combine(LayerDir(chainId), SquashfsMounts.FileName))
        : Directory.Exists(Path.Combine(LayerDir(chainId), "diff"));

    /// <summary>Creates the layout (0755 directories) where it is missing.</summary>
    private void EnsureLayout()
    {
        foreach (string dir in new[] { Location, Root, Path.Combine(Root, "blobs"), Path.Combine(Root, "blobs", Digest.Sha256), LayersDir, TempDir })
        {
            if (!Directory.Exists(dir))
            {
                // Explicit modes: a publisher's umask (often 077) must not hide the store from the nodes' users.
                MakeDirectory(dir);
            }
        }
    }

    /// <summary>
    /// podman reads the same storage.conf: it opens overlay-images/images.lock and
    /// overlay-layers/layers.lock in every additional store, and creates them where they are
    /// missing, which a user who cannot write here cannot do ("creating locker directory:
    /// permission denied", exit 125, on every podman command). Made empty and readable, they
    /// let podman see an empty store and carry on.
    /// </summary>
    private void EnsurePodmanLocks()
    {
        foreach (var (dir, file) in new[] { ("overlay-images", "images.lock"), ("overlay-layers", "layers.lock") })
        {
            string path = Path.Combine(Location, dir);
            if (!Directory.Exists(path))
            {
                MakeDirectory(path);
            }

            string lockFile = Path.Combine(path, file);
            if (!File.Exists(lockFile))
            {
                File.WriteAllBytes(lockFile, []);
                Chmod(lockFile, Readable);
            }
        }
    }

    /// <summary>Takes the publishers' lock (waiting for another publish on any node to finish).</summary>
    public async Task<IDisposable> LockAsync(CancellationToken cancellationToken)
    {
        if (ReadOnlyStores.Unusable(Location) is { } reason && Directory.Exists(Location))
        {
            throw new WharfException($"publishing into \"{Location}\": {reason}");
        }

        EnsureLayout();
        EnsurePodmanLocks();
        return await FileLock.AcquireAsync(Path.Combine(Root, "images.lock"), $"shared image store {Location}", TimeSpan.FromHours(1), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Copies a blob in (stage, sync, rename) unless the store has it; true when it copied.</summary>
    public bool AddBlob(Descriptor blob, string source)
    {
        ArgumentNullException.ThrowIfNull(blob);
        if (Images.HasBlob(blob))
        {
            return false;
        }

        string temp = Path.Combine(TempDir, $"{Environment.ProcessId}-{blob.Digest.Encoded}");
        try
        {
            using (var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
            using (var output = new FileStream(temp, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 1 << 16 }))
            {
                input.CopyTo(output);
                output.Flush(flushToDisk: true);
            }

            Chmod(temp, Readable);

            if (new FileInfo(temp).Length != blob.Size)
            {
                throw new WharfException($"publishing blob {blob.Digest}: the local copy has {new FileInfo(temp).Length} bytes, the manifest says {blob.Size}");
            }

            File.Move(temp, Images.BlobPath(blob.Digest), overwrite: true);
            return true;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>
    /// Copies an unpacked layer in unless the store has its chain: <c>cp -a</c> keeps owners, modes,
    /// times, hard links, device nodes (overlay whiteouts) and extended attributes (opaque dirs).
    /// </summary>
    public Task<bool> AddLayerAsync(string chainId, string diffId, string sourceDiff) =>
        AddLayerFormAsync(chainId, diffId, "diff", target =>
        {
            var copy = ProcessRunner.Run("cp", ["-a", "--reflink=auto", sourceDiff, target]);
            if (!copy.Succeeded)
            {
                throw new WharfException($"publishing layer {chainId}: cp: {copy.StandardError.Trim()}");
            }

            return Task.CompletedTask;
        });

    /// <summary>
    /// Adds the layer as one squashfs file (<c>layers/&lt;chain&gt;/layer.squashfs</c>) unless the
    /// store has it in that form: made by <c>mksquashfs</c> from the unpacked layer (owners, modes,
    /// device nodes and extended attributes kept, so overlay whiteouts and opaque dirs survive).
    /// <paramref name="ownersFrom"/>: the layer's blob, whose tar headers become a pseudo-file list
    /// giving every file the owner and mode the image records, whoever unpacked it (a publisher
    /// that is not root owns every unpacked file); null: the unpacked files' own.
    /// </summary>
    public Task<bool> AddSquashfsLayerAsync(string chainId, string diffId, string sourceDiff, string? ownersFrom, CancellationToken cancellationToken) =>
        AddLayerFormAsync(chainId, diffId, SquashfsMounts.FileName, async target =>
        {
            // zstd: small and fast to read back; -noappend: never add to what a killed run left.
            List<string> args = [sourceDiff, target, "-noappend", "-no-progress", "-quiet", "-comp", "zstd"];
            string? pseudo = null;
            if (ownersFrom is not null)
            {
                pseudo = target + ".owners";
                var root = await SquashfsOwners.WriteAsync(ownersFrom, pseudo, cancellationToken).ConfigureAwait(false);
                args.AddRange(["-pf", pseudo, "-root-mode", Convert.ToString(root.Mode, 8), "-root-uid", root.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), "-root-gid", root.Gid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            }

            var made = ProcessRunner.Run("mksquashfs", args);
            if (pseudo is not null)
            {
                File.Delete(pseudo);
            }

            if (!made.Succeeded)
            {
                throw new WharfException($"publishing layer {chainId}: mksquashfs: {(made.StandardError + made.StandardOutput).Trim()}");
            }

            Chmod(target, Readable);
        });

    /// <summary>
    /// Adds one form of a layer (<c>diff/</c> or <c>layer.squashfs</c>) unless the store has it:
    /// <paramref name="make"/> writes it into a staging directory in <c>tmp/</c> beside the
    /// layer's <c>diffid</c>; synced, it is renamed into place: a new layer directory as a whole,
    /// or the form alone into a layer directory that holds the other form already.
    /// </summary>
    private async Task<bool> AddLayerFormAsync(string chainId, string diffId, string form, Func<string, Task> make)
    {
        string final = LayerDir(chainId);
        string finalForm = Path.Combine(final, form);
        if (Path.Exists(finalForm))
        {
            return false;
        }

        string temp = Path.Combine(TempDir, $"{Environment.ProcessId}-layer-{Guid.NewGuid():N}");
        try
        {
            MakeDirectory(temp);
            string staged = Path.Combine(temp, form);
            await make(staged).ConfigureAwait(false);
            File.WriteAllText(Path.Combine(temp, "diffid"), diffId);
            Chmod(Path.Combine(temp, "diffid"), Readable);
            Durable.SyncTree(temp);
            if (Directory.Exists(final))
            {
                // The layer is there in the other form: this one joins it.
                if (Directory.Exists(staged))
                {
                    Directory.Move(staged, finalForm);
                }
                else
                {
                    File.Move(staged, finalForm);
                }

                Durable.SyncDirectory(final);
            }
            else
            {
                Directory.Move(temp, final);
                Durable.SyncDirectory(LayersDir);
            }

            return true;
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }

    /// <summary>Replaces the index (stage in tmp/, fsync, rename, fsync the directory): the commit point of a publish.</summary>
    public void WriteIndex(List<ImageRecord> images)
    {
        string temp = Path.Combine(TempDir, $"{Environment.ProcessId}-images.json.{Guid.NewGuid():N}");
        using (var fs = new FileStream(temp, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write }))
        {
            System.Text.Json.JsonSerializer.Serialize(fs, images, StoreJsonContext.Default.ListImageRecord);
            fs.Flush(flushToDisk: true);
        }

        Chmod(temp, Readable);
        File.Move(temp, Path.Combine(Root, "images.json"), overwrite: true);
        Durable.SyncDirectory(Root);
    }

    /// <summary>
    /// Removes what no published image refers to: everything in tmp/ (the lock is held, so no
    /// publish is staging), blobs, and unpacked layers. A layer goes by a rename into tmp/ first,
    /// so a reader never finds half a layer under its chain ID. An image whose config cannot be
    /// read makes the sweep keep every layer. Returns what it removed.
    /// </summary>
    public IReadOnlyList<string> Sweep(List<ImageRecord> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var removed = new List<string>();
        foreach (string entry in Directory.Exists(TempDir) ? Directory.GetFileSystemEntries(TempDir) : [])
        {
            Remove(entry);
            removed.Add(entry);
        }

        var keepBlobs = new HashSet<string>(StringComparer.Ordinal);
        var keepLayers = new HashSet<string>(StringComparer.Ordinal);
        bool allLayers = false;
        foreach (var image in images)
        {
            keepBlobs.Add(Digest.Parse(image.Digest).Encoded);
            keepBlobs.UnionWith(image.Blobs.Select(b => Digest.Parse(b).Encoded));
            try
            {
                var manifest = ManifestParser.Parse(Images.ReadBlob(image.Digest), image.ManifestMediaType);
                var diffIds = ImageRootFs.DiffIds(JsonNode.Parse(Images.ReadBlob(manifest.Config!.Digest)), manifest.Layers.Count, image.ShortId);
                keepLayers.UnionWith(LayerStore.ChainIds(diffIds).Select(c => Digest.Parse(c).Encoded));
            }
            catch (Exception e) when (e is IOException or WharfException or FormatException or System.Text.Json.JsonException or OciException)
            {
                allLayers = true;
            }
        }

        string blobs = Path.Combine(Root, "blobs", Digest.Sha256);
        foreach (string file in Directory.Exists(blobs) ? Directory.GetFiles(blobs) : [])
        {
            string name = Path.GetFileName(file);
            if (!keepBlobs.Contains(name.EndsWith(".usize", StringComparison.Ordinal) ? name[..^6] : name))
            {
                File.Delete(file);
                removed.Add(file);
            }
        }

        if (!allLayers)
        {
            foreach (string dir in Directory.Exists(LayersDir) ? Directory.GetDirectories(LayersDir) : [])
            {
                if (!keepLayers.Contains(Path.GetFileName(dir)))
                {
                    string doomed = Path.Combine(TempDir, $"{Environment.ProcessId}-gc-{Path.GetFileName(dir)}");
                    Directory.Move(dir, doomed);
                    Remove(doomed);
                    removed.Add(dir);
                }
            }

            Durable.SyncDirectory(LayersDir);
        }

        return removed;
    }

    /// <summary>
    /// Mount points on this node whose overlay uses a layer of this store among <paramref name="chainIds"/>
    /// (root containers of every user; a rootless container's mount lives in its own namespace and is
    /// found through the container store instead).
    /// </summary>
    public IReadOnlyList<string> MountsUsing(IEnumerable<string> chainIds)
    {
        var dirs = chainIds.Select(c => LayerDir(c) + "/diff").ToList();
        var found = new List<string>();
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            if (line.Contains("lowerdir=", StringComparison.Ordinal) && dirs.Any(d => line.Contains(d, StringComparison.Ordinal)))
            {
                string[] f = line.Split(' ');
                found.Add(f.Length > 4 ? f[4] : line);
            }
        }

        return found;
    }

    private static void MakeDirectory(string dir)
    {
        Directory.CreateDirectory(dir);
        Chmod(dir, Open);
    }

    private static void Chmod(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }
    }

    private static void Remove(string path)
    {
        try
        {
            if (Directory.Exists(path) && !File.GetAttributes(path).HasFlag(FileAttributes.ReparsePoint))
            {
                Directory.Delete(path, recursive: true);
            }
            else
            {
                File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The next sweep tries again; nothing under a final name depends on it.
        }
    }
}
