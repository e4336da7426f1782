using Wharf.Engine.Volumes;

namespace Wharf.Engine.Containers;

/// <summary>Named volumes in <c>run -v NAME:/path</c>: created on first use, as podman does, and mounted from their data directory.</summary>
public sealed partial class ContainerCreator
{
    /// <summary><c>NAME:DST[:opts]</c> → <c>MOUNTPOINT:DST[:opts]</c>; host paths pass unchanged.</summary>
    private string NamedVolumeToPath(string spec)
    {
        int colon = spec.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || spec[0] is '/' or '.')
        {
            return spec;
        }

        string name = spec[..colon];
        var volume = Volumes.TryGet(name) ?? Volumes.Create(name, ignoreIfExists: true);
        return volume.Mountpoint + spec[colon..];
    }
}
