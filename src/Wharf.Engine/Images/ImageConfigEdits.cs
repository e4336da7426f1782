using Wharf.Oci;

namespace Wharf.Engine.Images;

/// <summary>
/// Changes to an image config that <c>commit -c</c> and the Dockerfile instructions share, so the
/// two cannot drift apart (they once did: commit moved a replaced ENV variable to the end).
/// </summary>
public static class ImageConfigEdits
{
    /// <summary>
    /// Sets variables; one already present keeps its place and takes the new value (Docker and
    /// buildah replace in place), a new one goes at the end.
    /// </summary>
    public static ContainerConfig WithEnv(this ContainerConfig config, IEnumerable<(string Key, string Value)> pairs)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(pairs);
        var env = config.Env?.ToList() ?? [];
        foreach (var (k, v) in pairs)
        {
            int at = env.FindIndex(e => e.StartsWith(k + "=", StringComparison.Ordinal));
            if (at >= 0)
            {
                env[at] = k + "=" + v;
            }
            else
            {
                env.Add(k + "=" + v);
            }
        }

        return config with { Env = env };
    }

    public static ContainerConfig WithLabels(this ContainerConfig config, IEnumerable<(string Key, string Value)> pairs)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(pairs);
        var labels = config.Labels is null ? new Dictionary<string, string>(StringComparer.Ordinal) : new Dictionary<string, string>(config.Labels, StringComparer.Ordinal);
        foreach (var (k, v) in pairs)
        {
            labels[k] = v;
        }

        return config with { Labels = labels };
    }

    /// <summary>EXPOSE: a port without a protocol is TCP.</summary>
    public static ContainerConfig WithExposedPorts(this ContainerConfig config, IEnumerable<string> ports)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(ports);
        var all = config.ExposedPorts is null ? new Dictionary<string, EmptyObject>(StringComparer.Ordinal) : new Dictionary<string, EmptyObject>(config.ExposedPorts, StringComparer.Ordinal);
        foreach (string p in ports)
        {
            all[p.Contains('/', StringComparison.Ordinal) ? p : p + "/tcp"] = new EmptyObject();
        }

        return config with { ExposedPorts = all };
    }

    public static ContainerConfig WithVolumes(this ContainerConfig config, IEnumerable<string> volumes)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(volumes);
        var all = config.Volumes is null ? new Dictionary<string, EmptyObject>(StringComparer.Ordinal) : new Dictionary<string, EmptyObject>(config.Volumes, StringComparer.Ordinal);
        foreach (string v in volumes)
        {
            all[v] = new EmptyObject();
        }

        return config with { Volumes = all };
    }

    /// <summary>The value of <paramref name="name"/> in the config's environment, or null.</summary>
    public static string? EnvValue(this ContainerConfig config, string name)
    {
        ArgumentNullException.ThrowIfNull(config);
        foreach (string e in config.Env ?? [])
        {
            if (e.StartsWith(name + "=", StringComparison.Ordinal))
            {
                return e[(name.Length + 1)..];
            }
        }

        return null;
    }

    /// <summary>A new layer on top: its diff ID goes last in <c>rootfs.diff_ids</c>.</summary>
    public static ImageConfig WithLayer(this ImageConfig config, Digest diffId)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config with { RootFs = config.RootFs with { DiffIds = [.. config.RootFs.DiffIds, diffId.ToString()] } };
    }

    public static ImageConfig WithHistory(this ImageConfig config, HistoryEntry entry)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config with { History = [.. config.History ?? [], entry] };
    }
}
