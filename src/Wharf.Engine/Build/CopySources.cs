using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Wharf.Engine.Build;

/// <summary>What one COPY or ADD copies, resolved by the build session.</summary>
/// <param name="Keyword">COPY or ADD (ADD unpacks local archives from the context).</param>
/// <param name="Sources">Source paths or globs, relative to <paramref name="Root"/>.</param>
/// <param name="Root">The context, or an earlier stage's or image's unpacked root (--from).</param>
/// <param name="FromContext">Sources come from the context: absolute symlinks there are host paths.</param>
/// <param name="Ignore">The context's ignore file, for sources from the context.</param>
/// <param name="Destination">The absolute destination in the image.</param>
/// <param name="DestinationIsDirectory">The destination names a directory (trailing slash, ".", several sources).</param>
/// <param name="Step">The failure prefix, buildah's <c>building at STEP "…"</c>.</param>
internal sealed record CopyRequest(
    string Keyword, IReadOnlyList<string> Sources, string Root, bool FromContext, ContextIgnore? Ignore,
    string Destination, bool DestinationIsDirectory, int Uid, int Gid, UnixFileMode? Chmod, string Step);

/// <summary>
/// COPY/ADD sources laid out under a staging directory as they will appear in the image's root,
/// ready to be hashed (the cache key's content part) and written as one layer. Sources resolve
/// inside their root only: <c>..</c> and symlinks may not leave it.
/// </summary>
internal static class CopySources
{
    /// <summary>One client for every ADD of a URL in the process (connection pooling; no per-build sockets left behind).</summary>
    private static readonly HttpClient Http = new(new SocketsHttpHandler { AllowAutoRedirect = true, PooledConnectionLifetime = TimeSpan.FromMinutes(2) }) { Timeout = TimeSpan.FromMinutes(30) };

    public static async Task StageAsync(CopyRequest request, string staging, CancellationToken cancellationToken)
    {
        string step = request.Step;
        string target = Path.Combine(staging, request.Destination.TrimStart('/'));
        bool destIsDir = request.DestinationIsDirectory;
        var matched = new List<(string Host, string Relative)>();
        foreach (string src in request.Sources)
        {
            if (request.Keyword == "ADD" && src.StartsWith("git@", StringComparison.Ordinal))
            {
                throw new WharfException($"{step}: adding from a git repository is not supported by wharf: {src}");
            }

            if (request.Keyword == "ADD" && (src.StartsWith("http://", StringComparison.Ordinal) || src.StartsWith("https://", StringComparison.Ordinal)))
            {
                await DownloadAsync(src, target, destIsDir, request, cancellationToken).ConfigureAwait(false);
                continue;
            }

            var found = Resolve(request.Root, src, request.FromContext, step);
            if (found.Count == 0)
            {
                throw new WharfException($"{step}: checking on sources under \"{request.Root}\": copier: stat: \"/{src.TrimStart('/')}\": no such file or directory");
            }

            matched.AddRange(found);
        }

        destIsDir |= matched.Count > 1;
        if (destIsDir || matched.Any(x => Directory.Exists(x.Host)))
        {
            // The destination directory itself takes the --chown owner, as with buildah.
            Directory.CreateDirectory(target);
            Chown(target, request.Uid, request.Gid);
        }

        foreach (var (host, relative) in matched)
        {
            if (Directory.Exists(host))
            {
                CopyTree(host, relative, target, request.Ignore, request.Uid, request.Gid, request.Chmod);
            }
            else if (request.Keyword == "ADD" && request.FromContext && IsArchive(host))
            {
                Directory.CreateDirectory(target);
                await ExtractAsync(host, target, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                string to = destIsDir ? Path.Combine(target, Path.GetFileName(host)) : target;
                Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                CopyEntry(host, to, request.Uid, request.Gid, request.Chmod);
            }
        }
    }

    /// <summary>
    /// ADD of a URL, as buildah does it: the file is saved (never unpacked, even when it is an archive)
    /// under the name its URL path ends with when the destination is a directory, else as the
    /// destination; mode 0600 unless --chmod, mtime from Last-Modified.
    /// </summary>
    private static async Task DownloadAsync(string url, string target, bool destIsDir, CopyRequest request, CancellationToken cancellationToken)
    {
        string to = target;
        if (destIsDir)
        {
            string name = Uri.TryCreate(url, UriKind.Absolute, out var uri) ? Path.GetFileName(Uri.UnescapeDataString(uri.AbsolutePath)) : string.Empty;
            if (name.Length == 0 || name is "." or "..")
            {
                throw new WharfException($"{request.Step}: cannot determine a file name from the URL {url}: give the destination file name");
            }

            Directory.CreateDirectory(target);
            Chown(target, request.Uid, request.Gid);
            to = Path.Combine(target, name);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(to)!);
        HttpResponseMessage response;
        try
        {
            response = await Http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new WharfException($"{request.Step}: reading \"{url}\": {e.Message}");
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new WharfException($"{request.Step}: reading \"{url}\": invalid response status {(int)response.StatusCode}");
            }

            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                var file = new FileStream(to, FileMode.Create, FileAccess.Write);
                await using (file.ConfigureAwait(false))
                {
                    await body.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
                }
            }

            SetMode(to, request.Chmod ?? (UnixFileMode.UserRead | UnixFileMode.UserWrite));
            if (response.Content.Headers.LastModified is { } modified)
            {
                File.SetLastWriteTimeUtc(to, modified.UtcDateTime);
            }
        }

        Chown(to, request.Uid, request.Gid);
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
        var tar = await Wharf.Client.Processes.ProcessRunner.RunAsync("tar", ["-x", "--no-same-permissions", "-f", archive, "-C", target], null, cancellationToken).ConfigureAwait(false);
        if (!tar.Succeeded)
        {
            throw new WharfException($"unpacking {Path.GetFileName(archive)}: {tar.StandardError.Trim()}");
        }
    }

    /// <summary>Names, modes, link targets and file contents of the staged tree, in order.</summary>
    public static string HashTree(string root)
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
