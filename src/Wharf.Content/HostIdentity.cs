using Wharf.Content.Layers;

namespace Wharf.Content;

/// <summary>
/// Whether this process is root of the host, not merely root of a user namespace. Root inside a
/// rootless user namespace has euid 0 too, but the kernel refuses it device nodes (and a device it
/// could make would open the host's hardware), so euid alone does not decide.
/// </summary>
public static class HostIdentity
{
    /// <summary>euid 0 in the initial user namespace.</summary>
    public static bool IsRealRoot { get; } = LayerNative.geteuid() == 0 && InInitialNamespace();

    /// <summary>This process is in the initial user namespace, where IDs are the host's.</summary>
    public static bool InInitialNamespace() => IsInitial(ReadUidMap());

    /// <summary>
    /// The initial user namespace maps every ID to itself: its uid_map is the single line
    /// "0 0 4294967295" (user_namespaces(7)). Any other map, or none, is a child namespace.
    /// </summary>
    public static bool IsInitial(string? uidMap)
    {
        if (uidMap is null)
        {
            return false;
        }

        string[] lines = uidMap.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 1
            && lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries) is ["0", "0", "4294967295"];
    }

    private static string? ReadUidMap()
    {
        try
        {
            return File.ReadAllText("/proc/self/uid_map");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No procfs (a bare chroot): nothing shows we are the host's root, so act as if not.
            return null;
        }
    }
}
