using System.Runtime.InteropServices;
using Wharf.Client.Processes;

namespace Wharf.Engine.Containers;

/// <summary>
/// The container's root filesystem: a kernel overlay of the image's layers (topmost first) under
/// the container's upper dir; fuse-overlayfs where the kernel refuses; a full copy as the last resort.
/// </summary>
public static class RootfsMount
{
    public static bool IsMounted(string path)
    {
        string full = Path.GetFullPath(path).TrimEnd('/');
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            string[] f = line.Split(' ');
            if (f.Length > 4 && Unescape(f[4]) == full)
            {
                return true;
            }
        }

        return false;
    }

    private static string Unescape(string s) =>
        s.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
         .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);

    /// <summary>Mounts the overlay with <paramref name="driver"/>; returns an error text when it cannot.</summary>
    public static string? TryMount(string driver, IReadOnlyList<string> lowerTopFirst, string upper, string work, string merged, bool squashToRoot = false)
    {
        ArgumentNullException.ThrowIfNull(lowerTopFirst);
        Directory.CreateDirectory(upper);
        Directory.CreateDirectory(work);
        Directory.CreateDirectory(merged);
        if (IsMounted(merged))
        {
            return null;
        }

        string options = $"lowerdir={string.Join(':', lowerTopFirst)},upperdir={upper},workdir={work}";
        if (driver == "overlay")
        {
            // The mount data is one page at most; long layer lists are mounted by mount(8) with short relative names.
            if (options.Length < 4000)
            {
                return ContainerNative.Mount("overlay", merged, "overlay", 0, options) == 0
                    ? null
                    : $"mount overlay on {merged}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
            }

            string common = CommonParent(lowerTopFirst);
            string relative = $"lowerdir={string.Join(':', lowerTopFirst.Select(l => Path.GetRelativePath(common, l)))},upperdir={upper},workdir={work}";
            return RunTool("mount", common, "-t", "overlay", "overlay", "-o", relative, merged);
        }

        return RunTool("fuse-overlayfs", null, "-o", squashToRoot ? options + ",squash_to_root" : options, merged);
    }

    private static string CommonParent(IReadOnlyList<string> dirs) => Path.GetDirectoryName(Path.GetDirectoryName(dirs[0])!)!;

    public static void Unmount(string merged, string driver)
    {
        if (!Directory.Exists(merged) || !IsMounted(merged))
        {
            return;
        }

        if (driver == "fuse-overlayfs" && RunTool("fusermount3", null, "-u", merged) is null)
        {
            return;
        }

        if (ContainerNative.Umount2(merged, ContainerNative.MNT_DETACH) != 0)
        {
            string reason = Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
            // Not mounted any more: another process (the container's monitor, as it exits while
            // `rm -f` kills it) unmounted it after the check above. The goal is reached either way.
            if (IsMounted(merged))
            {
                throw new WharfException($"unmounting {merged}: {reason}");
            }
        }
    }

    public static bool ToolExists(string tool) => FindTool(tool) is not null;

    /// <summary>The full path of a program on PATH (or in the system directories), or null.</summary>
    public static string? FindTool(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':').Concat(["/usr/bin", "/bin", "/usr/sbin", "/sbin"])
            .Where(d => d.Length > 0).Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);

    private static string? RunTool(string tool, string? cwd, params string[] args)
    {
        try
        {
            var result = ProcessRunner.Run(tool, args, new ProcessRunOptions { WorkingDirectory = cwd });
            return result.Succeeded ? null : $"{tool}: {result.StandardError.Trim()}";
        }
        catch (ProgramNotFoundException e)
        {
            // The caller falls back to another driver; the reason is kept for its message.
            return e.Message;
        }
    }
}
