using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Wharf.Client.Processes;
using Wharf.Content.Layers;
using Wharf.Engine.Containers;

namespace Wharf.Engine.Build;

public sealed partial class Builder
{
    private readonly Dictionary<string, string> _fromRoots = new(StringComparer.Ordinal);

    /// <summary>
    /// COPY/ADD: the sources are staged under a directory laid out as the image's root, hashed (the
    /// cache key's content part), then written as one layer. Sources resolve inside their root only:
    /// <c>..</c> and symlinks may not leave the context.
    /// </summary>
    private async Task CopyAsync(
        Instruction ins, StageState state, IReadOnlyList<Stage> stages, Stage stage, Dictionary<int, string> results,
        string context, ContextIgnore ignore, string work, BuildOptions options, char escape, CancellationToken cancellationToken)
    {
        string step = $"building at STEP \"{ins.Keyword} {ins.Arguments}\"";
        var args = ins.ExecForm?.Select(a => Words.Expand(a, state.Lookup, escape)).ToList() ?? Words.Split(Words.Expand(ins.Arguments, state.Lookup, escape), escape);
        if (args.Count < 2)
        {
            throw new WharfException($"Dockerfile:{ins.Line}: {ins.Keyword} requires at least two arguments");
        }

        string dest = args[^1];
        var sources = args[..^1];
        string workdir = state.Run["WorkingDir"]?.GetValue<string>() is { Length: > 0 } w ? w : "/";
        bool destIsDir = dest.EndsWith('/') || dest == "." || sources.Count > 1;
        string destPath = dest.StartsWith('/') ? Normalize(dest) : Normalize(workdir + "/" + dest);

        // Where sources come from: the context (with its ignore file), or a stage's or image's root.
        string root = context;
        bool fromContext = true;
        if (ins.Flags.TryGetValue("from", out string? from))
        {
            fromContext = false;
            root = await FromRootAsync(from, stages, stage, results, work, options, cancellationToken).ConfigureAwait(false);
        }

        var (uid, gid) = Owner(ins, root, state);
        UnixFileMode? chmod = ins.Flags.TryGetValue("chmod", out string? m) ? (UnixFileMode)Convert.ToInt32(m, 8) : null;
        string staging = Path.Combine(work, "stage-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(staging);
        try
        {
            string target = Path.Combine(staging, destPath.TrimStart('/'));
            var matched = new List<(string Host, string Relative)>();
            foreach (string src in sources)
            {
                if (ins.Keyword == "ADD" && (src.StartsWith("http://", StringComparison.Ordinal) || src.StartsWith("https://", StringComparison.Ordinal) || src.StartsWith("git@", StringComparison.Ordinal)))
                {
                    throw new WharfException($"{step}: adding from a URL is not supported: {src}");
                }

                var found = Resolve(root, src, fromContext, step);
                if (found.Count == 0)
                {
                    throw new WharfException($"{step}: checking on sources under \"{root}\": copier: stat: \"/{src.TrimStart('/')}\": no such file or directory");
                }

                matched.AddRange(found);
            }

            destIsDir |= matched.Count > 1;
            if (destIsDir || matched.Any(x => Directory.Exists(x.Host)))
            {
                // The destination directory itself takes the --chown owner, as with buildah.
                Directory.CreateDirectory(target);
                Chown(target, uid, gid);
            }

            foreach (var (host, relative) in matched)
            {
                if (Directory.Exists(host))
                {
                    CopyTree(host, relative, target, fromContext ? ignore : null, uid, gid, chmod);
                }
                else if (ins.Keyword == "ADD" && fromContext && IsArchive(host))
                {
                    Directory.CreateDirectory(target);
                    await ExtractAsync(host, target, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    string to = destIsDir ? Path.Combine(target, Path.GetFileName(host)) : target;
                    Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                    CopyEntry(host, to, uid, gid, chmod);
                }
            }

            string contentHash = HashTree(staging);
            string createdBy = $"/bin/sh -c #(nop) {ins.Keyword} {string.Join(' ', ins.Flags.Select(f => $"--{f.Key}={f.Value} "))}{string.Join(' ', sources)} {dest}";
            string key = Hash(state.ParentKey + "\n" + createdBy + "\n" + contentHash + "\n" + options.Format);
            if (TryCache(state, key, options))
            {
                return;
            }

            var changes = ContainerChanges.Compute(staging, [], [], []);
            AddHistory(state, History(createdBy, empty: changes.Count == 0));
            if (changes.Count == 0)
            {
                await CommitAsync(state, null, options, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                string layerFile = Path.Combine(work, "layer-" + Guid.NewGuid().ToString("N") + ".tar.gz");
                var (diffId, digest, size, _) = await ContainerEngine.WriteLayerAsync(changes, layerFile, cancellationToken).ConfigureAwait(false);
                await CommitAsync(state, (layerFile, diffId, digest, size), options, cancellationToken).ConfigureAwait(false);
                File.Delete(layerFile);
            }

            _cache.Put(key, state.ImageId!);
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>The root filesystem of an earlier stage (by name or index) or of an image, unpacked once per build.</summary>
    private async Task<string> FromRootAsync(string from, IReadOnlyList<Stage> stages, Stage stage, Dictionary<int, string> results, string work, BuildOptions options, CancellationToken cancellationToken)
    {
        string? imageId = null;
        var named = stages.Take(stage.Index).FirstOrDefault(s => s.Name == from.ToLowerInvariant());
        if (named is not null)
        {
            imageId = results[named.Index];
        }
        else if (int.TryParse(from, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
        {
            imageId = index < stage.Index ? results[index] : throw new WharfException($"COPY --from={from}: stage {index} is not an earlier stage");
        }

        var image = imageId is not null
            ? Store.ReadImages().First(i => i.Id == imageId)
            : await ResolveAsync(from, null, options, cancellationToken).ConfigureAwait(false);
        if (!_fromRoots.TryGetValue(image.Id, out string? dir))
        {
            dir = Path.Combine(work, "from-" + image.Id[..12]);
            Directory.CreateDirectory(dir);
            await _containers.Layers.ApplyAllAsync(image, dir, cancellationToken).ConfigureAwait(false);
            _fromRoots[image.Id] = dir;
        }

        return dir;
    }

    private (int Uid, int Gid) Owner(Instruction ins, string root, StageState state)
    {
        if (!ins.Flags.TryGetValue("chown", out string? chown))
        {
            return (0, 0);
        }

        string[] parts = chown.Split(':');
        int uid = NumericOrNamed(parts[0], "passwd", ins);
        int gid = parts.Length > 1 ? NumericOrNamed(parts[1], "group", ins) : uid;
        return (uid, gid);

        int NumericOrNamed(string value, string db, Instruction i)
        {
            if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            {
                return n;
            }

            if (value == "root")
            {
                return 0;
            }

            // Names resolve through the image's /etc/passwd and /etc/group, read from its layers.
            string? file = ReadImageFile(state, "etc/" + db);
            foreach (string line in (file ?? string.Empty).Split('\n'))
            {
                var f = line.Split(':');
                if (f.Length > 2 && f[0] == value && int.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out int id))
                {
                    return id;
                }
            }

            throw new WharfException($"Dockerfile:{i.Line}: --chown={chown}: no {(db == "passwd" ? "user" : "group")} \"{value}\" in the image's /etc/{db}");
        }
    }

    /// <summary>A file from the image's layers (topmost wins), read through the unpacked layer directories.</summary>
    private string? ReadImageFile(StageState state, string relative)
    {
        if (state.ImageId is null || Store.ReadImages().FirstOrDefault(i => i.Id == state.ImageId) is not { } image)
        {
            return null;
        }

        var unpacked = _containers.Layers.EnsureAsync(image, WhiteoutMode.Overlay, CancellationToken.None).GetAwaiter().GetResult();
        foreach (string dir in unpacked.LayerDirs.Reverse())
        {
            string p = Path.Combine(dir, relative);
            if (File.Exists(p))
            {
                return File.ReadAllText(p);
            }
        }

        return null;
    }

    /// <summary>
    /// Sources matching <paramref name="src"/> under <paramref name="root"/>: glob characters expand per path
    /// segment; every symlink on the way resolves inside the root, and one leading out fails.
    /// </summary>
    private static List<(string Host, string Relative)> Resolve(string root, string src, bool fromContext, string step)
    {
        var segments = new List<string>();
        foreach (string p in src.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (p == "..")
            {
                if (segments.Count == 0)
                {
                    throw new WharfException($"{step}: forbidden path outside the build context: {src}");
                }

                segments.RemoveAt(segments.Count - 1);
            }
            else if (p != ".")
            {
                segments.Add(p);
            }
        }

        var current = new List<(string Host, string Relative)> { (root, string.Empty) };
        foreach (string seg in segments)
        {
            var next = new List<(string, string)>();
            foreach (var (host, rel) in current)
            {
                string dir = FollowInRoot(root, host, fromContext, step, src);
                if (!Directory.Exists(dir))
                {
                    continue;
                }

                if (seg.IndexOfAny(['*', '?', '[']) >= 0)
                {
                    var glob = ContextIgnore.Glob(seg);
                    foreach (string e in Directory.EnumerateFileSystemEntries(dir).Order(StringComparer.Ordinal))
                    {
                        if (glob.IsMatch(Path.GetFileName(e)))
                        {
                            next.Add((e, rel.Length == 0 ? Path.GetFileName(e) : rel + "/" + Path.GetFileName(e)));
                        }
                    }
                }
                else
                {
                    string e = Path.Combine(dir, seg);
                    if (Path.Exists(e) || new FileInfo(e).LinkTarget is not null)
                    {
                        next.Add((e, rel.Length == 0 ? seg : rel + "/" + seg));
                    }
                }
            }

            current = next;
        }

        return [.. current.Select(c => (FollowInRoot(root, c.Host, fromContext, step, src), c.Relative)).Where(c => Path.Exists(c.Item1))];
    }

    /// <summary>Follows a path's symlinks, failing when one points outside the root.</summary>
    private static string FollowInRoot(string root, string path, bool fromContext, string step, string src)
    {
        for (int hops = 0; hops < 40; hops++)
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is not { } link)
            {
                return path;
            }

            string resolved;
            if (Path.IsPathRooted(link))
            {
                // In an image root an absolute link is relative to that root; in the context it is a host path.
                resolved = fromContext ? Path.GetFullPath(link) : Path.GetFullPath(Path.Combine(root, link.TrimStart('/')));
            }
            else
            {
                resolved = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, link));
            }

            if (resolved != root && !resolved.StartsWith(root.TrimEnd('/') + "/", StringComparison.Ordinal))
            {
                throw new WharfException($"{step}: forbidden path outside the build context: {src} ({link})");
            }

            path = resolved;
        }

        throw new WharfException($"{step}: too many levels of symbolic links: {src}");
    }

    private static void CopyTree(string hostDir, string relative, string target, ContextIgnore? ignore, int uid, int gid, UnixFileMode? chmod)
    {
        Directory.CreateDirectory(target);
        foreach (string e in Directory.EnumerateFileSystemEntries(hostDir).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(e);
            string rel = relative.Length == 0 ? name : relative + "/" + name;
            bool isDir = Directory.Exists(e) && new FileInfo(e).LinkTarget is null;
            if (ignore is not null && ignore.IsExcluded(rel) && !isDir)
            {
                continue;
            }

            string to = Path.Combine(target, name);
            if (isDir)
            {
                CopyTree(e, rel, to, ignore, uid, gid, chmod);
                SetMode(to, chmod ?? ModeOf(e));
                Chown(to, uid, gid);
            }
            else
            {
                CopyEntry(e, to, uid, gid, chmod);
            }
        }
    }

    /// <summary>One file or symlink (copied as a link: only its text is data), with the owner set.</summary>
    private static void CopyEntry(string from, string to, int uid, int gid, UnixFileMode? chmod)
    {
        var info = new FileInfo(from);
        if (info.LinkTarget is { } link)
        {
            File.CreateSymbolicLink(to, link);
        }
        else if (Directory.Exists(from))
        {
            Directory.CreateDirectory(to);
        }
        else
        {
            File.Copy(from, to, overwrite: true);
            SetMode(to, chmod ?? ModeOf(from));
            File.SetLastWriteTimeUtc(to, info.LastWriteTimeUtc);
        }

        Chown(to, uid, gid);
    }

    private static void Chown(string path, int uid, int gid)
    {
        if (BuildNative.Lchown(path, uid, gid) != 0 && (uid != 0 || gid != 0))
        {
            throw new WharfException($"chown {path} to {uid}:{gid}: permission denied");
        }
    }

    /// <summary>tar, gzip, bzip2 or xz, by their magic numbers (ADD unpacks these).</summary>
    private static bool IsArchive(string path)
    {
        byte[] head = new byte[512];
        int n;
        using (var f = File.OpenRead(path))
        {
            n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }

        return (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
            || (n >= 3 && head[0] == 'B' && head[1] == 'Z' && head[2] == 'h')
            || (n >= 6 && head[0] == 0xfd && head[1] == '7' && head[2] == 'z' && head[3] == 'X' && head[4] == 'Z')
            || (n >= 262 && Encoding.ASCII.GetString(head, 257, 5) == "ustar");
    }

    private static async Task ExtractAsync(string archive, string target, CancellationToken cancellationToken)
    {
        var tar = await ProcessRunner.RunAsync("tar", ["-x", "--no-same-permissions", "-f", archive, "-C", target], null, cancellationToken).ConfigureAwait(false);
        if (!tar.Succeeded)
        {
            throw new WharfException($"unpacking {Path.GetFileName(archive)}: {tar.StandardError.Trim()}");
        }
    }

    /// <summary>Names, modes, link targets and file contents of the staged tree, in order.</summary>
    private static string HashTree(string root)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string e in Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Order(StringComparer.Ordinal))
        {
            var info = new FileInfo(e);
            string rel = Path.GetRelativePath(root, e);
            hash.AppendData(Encoding.UTF8.GetBytes($"{rel}\0{(int)ModeOf(e)}\0{info.LinkTarget}\0"));
            if (info.LinkTarget is null && File.Exists(e))
            {
                using var f = File.OpenRead(e);
                hash.AppendData(SHA256.HashData(f));
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static UnixFileMode ModeOf(string path) => OperatingSystem.IsWindows() ? 0 : File.GetUnixFileMode(path);

    private static void SetMode(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }
    }
}
