namespace Wharf.Engine.Storage;

/// <summary>
/// Directories only their owner may enter (0700), as podman makes its store and runtime
/// directories: an unpacked layer can hold setuid files and device nodes that no other local user
/// may reach.
/// </summary>
public static class PrivateDirectory
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Creates <paramref name="path"/> (and missing parents) 0700; an existing one is made 0700 too.</summary>
    public static string Create(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return path;
        }

        Directory.CreateDirectory(path, OwnerOnly);
        if (File.GetUnixFileMode(path) != OwnerOnly)
        {
            File.SetUnixFileMode(path, OwnerOnly);
        }

        return path;
    }
}
