using System.Globalization;
using System.Text.Json.Nodes;
using Wharf.Engine.Containers;
using Wharf.Engine.Storage;

namespace Wharf.Engine.Volumes;

/// <summary>One named volume: its name, the directory containers see, and when it was made.</summary>
public sealed record VolumeRecord(string Name, string Mountpoint, DateTimeOffset CreatedAt);

/// <summary>
/// Named volumes, laid out as podman's local driver lays them out, beside wharf's other state so
/// podman's own volumes in the same graphroot are never touched:
/// <code>
/// &lt;graphroot&gt;/wharf/volumes/
///   volumes.lock        held (flock) while a volume is created or removed
///   &lt;name&gt;/_data        the volume's content (the mount source)
///   &lt;name&gt;/created      when it was created (RFC 3339)
/// </code>
/// </summary>
/// <remarks>Creating and removing a volume records podman's <c>volume create</c>/<c>remove</c> event when an event log is given.</remarks>
public sealed class VolumeStore(string root, TimeProvider? time = null, Events.EventLog? events = null)
{
    /// <summary>The engine's volume store: under its graphroot, or where <c>--volumepath</c> says.</summary>
    public VolumeStore(ImageEngine engine)
        : this((engine ?? throw new ArgumentNullException(nameof(engine))).VolumePath, engine.Time, engine.Events)
    {
    }

    public string Root { get; } = root;

    public VolumeRecord Create(string name, bool ignoreIfExists)
    {
        ArgumentNullException.ThrowIfNull(name);
        try
        {
            ContainerLifecycle.CheckName(name);
        }
        catch (WharfException e)
        {
            throw new WharfException("running volume create option: " + e.Message);
        }

        return Locked(() =>
        {
            if (TryGet(name) is { } existing)
            {
                return ignoreIfExists ? existing : throw new WharfException($"volume with name {name} already exists: volume already exists");
            }

            string dir = Path.Combine(Root, name);
            Directory.CreateDirectory(Path.Combine(dir, "_data"));
            File.WriteAllText(Path.Combine(dir, "created"), (time ?? TimeProvider.System).GetUtcNow().ToString("O", CultureInfo.InvariantCulture));
            events?.Volume("create", name);
            return TryGet(name)!;
        });
    }

    public IReadOnlyList<VolumeRecord> List() =>
        Directory.Exists(Root)
            ? [.. Directory.GetDirectories(Root).Select(d => TryGet(Path.GetFileName(d))).OfType<VolumeRecord>().OrderBy(v => v.Name, StringComparer.Ordinal)]
            : [];

    public VolumeRecord? TryGet(string name)
    {
        string dir = Path.Combine(Root, name);
        string created = Path.Combine(dir, "created");
        if (name.Contains('/', StringComparison.Ordinal) || name is "." or ".." || !File.Exists(created) || !Directory.Exists(Path.Combine(dir, "_data")))
        {
            return null;
        }

        return new VolumeRecord(name, Path.Combine(dir, "_data"),
            DateTimeOffset.TryParse(File.ReadAllText(created).Trim(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : DateTimeOffset.MinValue);
    }

    public VolumeRecord Get(string name) =>
        TryGet(name) ?? throw new WharfException($"no volume with name \"{name}\" found: no such volume", 1);

    /// <summary>Removes the volume and its content (the marker first, so a half-removed volume is no longer listed).</summary>
    public void Remove(string name)
    {
        Locked(() =>
        {
            var v = Get(name);
            string dir = Path.Combine(Root, v.Name);
            File.Delete(Path.Combine(dir, "created"));
            Directory.Delete(dir, recursive: true);
            events?.Volume("remove", v.Name);
            return 0;
        });
    }

    /// <summary>Removes an unused volume for <c>volume prune</c> (or <c>system prune --volumes</c>): podman records <c>remove</c>, then <c>prune</c>.</summary>
    public void Prune(string name)
    {
        Remove(name);
        events?.Volume("prune", name);
    }

    public static JsonObject Describe(VolumeRecord v)
    {
        ArgumentNullException.ThrowIfNull(v);
        return new JsonObject
        {
            ["Name"] = v.Name,
            ["Driver"] = "local",
            ["Mountpoint"] = v.Mountpoint,
            ["CreatedAt"] = v.CreatedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.FFFFFFFZ", CultureInfo.InvariantCulture),
            ["Labels"] = new JsonObject(),
            ["Scope"] = "local",
            ["Options"] = new JsonObject(),
            ["MountCount"] = 0,
        };
    }

    private T Locked<T>(Func<T> action)
    {
        Directory.CreateDirectory(Root);
        return FileLock.Locked(Path.Combine(Root, "volumes.lock"), "volume store", action);
    }
}
