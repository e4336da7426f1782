namespace Wharf.Engine.Containers;

/// <summary>
/// Resolves a path as the container would see it, on the host, without ever leaving the container's
/// root: each component is looked up in turn, a symlink's target is resolved again from the root
/// (absolute) or its directory (relative), and <c>..</c> stops at the root. The host path returned
/// is always under the root. (The container can still change its tree afterwards; for a running
/// container the copy that follows is as safe as the moment it resolved.)
/// </summary>
public static class RootfsResolver
{
    private const int MaxSymlinks = 40;

    /// <param name="followFinal">Whether a symlink in the last component is followed (else the link itself is meant).</param>
    public static string Resolve(string root, string path, bool followFinal)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(path);
        var resolved = new List<string>();
        var pending = new LinkedList<string>(Split(path));
        int links = 0;
        while (pending.First is { } node)
        {
            string part = node.Value;
            pending.RemoveFirst();
            if (part == "..")
            {
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }

                continue;
            }

            string candidate = Path.Combine(root, Path.Combine([.. resolved, part]));
            bool last = pending.Count == 0;
            if (LinkTarget(candidate) is { } linkTarget && (!last || followFinal))
            {
                if (++links > MaxSymlinks)
                {
                    throw new WharfException($"resolving {path} in the container: too many levels of symbolic links");
                }

                if (linkTarget.StartsWith('/'))
                {
                    resolved.Clear();
                }

                foreach (string p in Split(linkTarget).Reverse())
                {
                    pending.AddFirst(p);
                }

                continue;
            }

            resolved.Add(part);
        }

        return resolved.Count == 0 ? root : Path.Combine(root, Path.Combine([.. resolved]));
    }

    /// <summary>readlink(2) of the path itself, or null when it is not a symlink (or does not exist).</summary>
    public static string? LinkTarget(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static IEnumerable<string> Split(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".");
}
