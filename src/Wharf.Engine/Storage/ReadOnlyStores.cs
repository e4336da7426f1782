using System.Collections.Concurrent;

namespace Wharf.Engine.Storage;

/// <summary>
/// Opens the directories <c>additionalimagestores</c> names as read-only image stores. A
/// directory wharf cannot use (missing, or podman's containers-storage layout) is skipped with one
/// plain warning per process, never an error: a site's storage.conf is shared with podman, and a
/// store that is down must not stop a user's own images from working.
/// </summary>
public static class ReadOnlyStores
{
    private static readonly ConcurrentDictionary<string, bool> Warned = new(StringComparer.Ordinal);

    public static IReadOnlyList<ImageStore> Open(IReadOnlyList<string> directories, string graphRoot, Action<string> warn)
    {
        ArgumentNullException.ThrowIfNull(directories);
        ArgumentNullException.ThrowIfNull(warn);
        void WarnOnce(string dir, string message)
        {
            if (Warned.TryAdd(dir, true))
            {
                warn(message);
            }
        }

        var stores = new List<ImageStore>();
        foreach (string dir in directories)
        {
            if (string.Equals(Path.TrimEndingDirectorySeparator(dir), Path.TrimEndingDirectorySeparator(graphRoot), StringComparison.Ordinal))
            {
                continue;
            }

            string? reason = Unusable(dir);
            if (reason is not null)
            {
                WarnOnce(dir, $"additional image store \"{dir}\" is not used: {reason}");
                continue;
            }

            stores.Add(new ImageStore(dir) { Warn = m => WarnOnce(dir, m) });
        }

        return stores;
    }

    /// <summary>Why <paramref name="dir"/> cannot serve as a read-only store; null when it can (or is simply empty).</summary>
    public static string? Unusable(string dir)
    {
        ArgumentNullException.ThrowIfNull(dir);
        try
        {
            if (!Directory.Exists(dir))
            {
                return "no such directory";
            }

            if (Directory.Exists(Path.Combine(dir, "wharf")))
            {
                return null;
            }

            if (File.Exists(Path.Combine(dir, "overlay-images", "images.json")) || File.Exists(Path.Combine(dir, "vfs-images", "images.json")))
            {
                return "it is podman's containers-storage layout, which wharf does not read (publish images into a wharf store with \"wharf image publish\")";
            }

            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }
}
