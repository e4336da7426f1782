namespace Wharf.Engine.Containers;

/// <summary>
/// podman's rule for the working directory at start: the image's WORKDIR is created when the
/// rootfs lacks it, while a <c>--workdir</c> that does not exist, or is not a directory, is an error (exit 126).
/// </summary>
internal static class WorkingDirectory
{
    public static void Ensure(string rootfs, ContainerRecord c)
    {
        string dir = c.Settings.WorkingDir;
        var mounted = c.Mounts.Select(m => m.Destination).Concat(c.RuntimeFlags.MountDestinations());
        if (dir == "/" || mounted.Any(m => Under(dir, m)))
        {
            // The runtime makes a mount point (and so the directory) itself.
            return;
        }

        string host = RootfsPaths.Resolve(rootfs, dir);
        if (Directory.Exists(host))
        {
            return;
        }

        if (File.Exists(host) || (Path.Exists(host) && !Directory.Exists(host)))
        {
            throw new WharfException($"workdir \"{dir}\" exists on container {c.Id}, but is not a directory", 126);
        }

        if (!c.CreateWorkingDir)
        {
            throw new WharfException($"workdir \"{dir}\" does not exist on container {c.Id}", 126);
        }

        Directory.CreateDirectory(host);
    }

    private static bool Under(string path, string mount) =>
        path == mount || path.StartsWith(mount.TrimEnd('/') + "/", StringComparison.Ordinal);
}
