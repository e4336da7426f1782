using System.Text.Json.Nodes;
using Wharf.Client;
using Wharf.Engine.Storage;
using Wharf.Engine.Volumes;

namespace Wharf.Engine.Containers;

/// <summary>
/// podman's container domain on an OCI runtime: the container records (<see cref="Store"/>), the
/// runtime, the unpacked layers and squashfs mounts, shared by its three parts —
/// <see cref="Creator"/> (create: image, spec, mounts, named volumes, the root filesystem's
/// directories), <see cref="Lifecycle"/> (the container's process: start, run, stop, kill, rm,
/// exec, wait, restart, pause, top, logs, inspect; runtime calls and the waiter) and
/// <see cref="Files"/> (its filesystem seen from outside: diff, commit, cp, export, mount), with the
/// root filesystem's mount and unmount in <see cref="Mounts"/>, which start and the files part share. Each verb
/// takes <c>XxxOptions</c> and returns what the command line prints.
/// </summary>
public sealed class ContainerEngine
{
    private readonly ImageEngine _images;
    private readonly TextWriter _progress;
    private Runtime? _runtime;

    public ContainerEngine(ImageEngine images, TextWriter progress)
    {
        ArgumentNullException.ThrowIfNull(images);
        _images = images;
        _progress = progress ?? TextWriter.Null;
        Store = new ContainerStore(images.Storage.GraphRoot, images.Storage.RunRoot, images.Time) { Events = images.Events };
        Layers = new LayerStore(images.Store, images.Storage.Quota);
        Squashfs = new SquashfsMounts(images.Storage.RunRoot, images.Environment.IsRoot);
        Mounts = new ContainerMounts(this);
        Creator = new ContainerCreator(this);
        Lifecycle = new ContainerLifecycle(this);
        Files = new ContainerFiles(this);
    }

    /// <summary>The root filesystem's mount and unmount (start, cp, export, mount) and the squashfs layer mounts under it.</summary>
    internal ContainerMounts Mounts { get; }

    /// <summary>create: a container record, its spec inputs, mounts and root filesystem directories.</summary>
    public ContainerCreator Creator { get; }

    /// <summary>The container's process: start, run, stop, kill, rm, exec, wait, restart, pause, top, logs, inspect.</summary>
    public ContainerLifecycle Lifecycle { get; }

    /// <summary>The container's filesystem from outside: diff, commit, cp, export, mount, unmount.</summary>
    public ContainerFiles Files { get; }

    /// <summary>This node's mounts of shared squashfs layers (docs/shared-store.md).</summary>
    public SquashfsMounts Squashfs { get; }

    public ContainerStore Store { get; }

    public LayerStore Layers { get; }

    public ImageEngine Images => _images;

    internal HostEnvironment Env => _images.Environment;

    internal DateTimeOffset Now => _images.Time.GetUtcNow();

    /// <summary>Whether this command has said that it unpacks squashfs-only shared layers (once per command).</summary>
    internal bool SquashfsFallbackSaid { get; set; }

    public Runtime Runtime => _runtime ??= new Runtime(Store.RuncRoot, _images.RuntimeName ?? Env.Get("WHARF_RUNTIME")) { Log = _images.DebugLog, Flags = _images.RuntimeFlags };

    /// <summary>
    /// podman's <c>--runtime</c> (a name on PATH or a path) for the containers this engine starts;
    /// null keeps <c>WHARF_RUNTIME</c>, else runc. Containers of a build live and die within it, so
    /// every runtime call on them goes through the one chosen here.
    /// </summary>
    public void UseRuntime(string? nameOrPath)
    {
        if (nameOrPath is null)
        {
            return;
        }

        try
        {
            _runtime = new Runtime(Store.RuncRoot, nameOrPath) { Log = _images.DebugLog, Flags = _images.RuntimeFlags };
        }
        catch (WharfException)
        {
            throw new WharfException($"default OCI runtime \"{nameOrPath}\" not found: invalid argument");
        }
    }

    /// <summary>overlay unless <c>--storage-opt overlay.mount_program</c> or <c>WHARF_ROOTFS_DRIVER</c> asks for fuse-overlayfs or copy.</summary>
    internal string PreferredDriver => _images.RootfsDriver ?? (Env.Get("WHARF_ROOTFS_DRIVER") is { Length: > 0 } d ? d : "overlay");

    /// <summary>Every container with its live state, oldest first.</summary>
    public IReadOnlyList<ContainerRecord> List() => [.. Store.List().Select(Store.Refresh)];

    public ContainerRecord Lookup(string nameOrId) => Store.Refresh(Store.Lookup(nameOrId));

    /// <summary>ps --size: the bytes the container wrote (its upper directory) and its image's size.</summary>
    public (long Written, long Image) ContainerSize(ContainerRecord c)
    {
        ArgumentNullException.ThrowIfNull(c);
        long written = Directory.Exists(Store.Upper(c.Id)) ? ImageStore.TreeSize(Store.Upper(c.Id)) : 0;
        return (written, _images.Store.ReadImages().FirstOrDefault(i => i.Id == c.ImageId)?.Size ?? 0);
    }

    /// <summary>Named volumes (<c>run -v NAME:/path</c> creates them on first use).</summary>
    public VolumeStore Volumes => new(_images);

    /// <summary>The containers whose mounts use the volume's data directory.</summary>
    public IReadOnlyList<ContainerRecord> UsersOf(VolumeRecord volume)
    {
        ArgumentNullException.ThrowIfNull(volume);
        return [.. List().Where(c => c.Mounts.Any(m => m.Source == volume.Mountpoint))];
    }

    /// <summary>The image config's <c>config</c> object, or an empty one.</summary>
    internal static JsonObject ImageRunConfig(JsonObject config) => config["config"] as JsonObject ?? [];

    internal static List<string>? Strings(JsonNode? node) =>
        node is JsonArray a ? [.. a.Select(n => n?.GetValue<string>() ?? string.Empty)] : null;

    internal void Event(string status, ContainerRecord c, int exitCode = 0) => _images.Events.Container(status, c, exitCode);

    internal void Progress(string line)
    {
        _progress.WriteLine(line);
        _progress.Flush();
    }
}

/// <summary>
/// A part of a <see cref="ContainerEngine"/>: it works on the engine's container store, runtime
/// and layers, and holds no state of its own.
/// </summary>
public abstract class ContainerEnginePart
{
    private protected ContainerEnginePart(ContainerEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        Engine = engine;
    }

    /// <summary>The engine this part belongs to.</summary>
    public ContainerEngine Engine { get; }

    private protected ImageEngine Images => Engine.Images;

    private protected ContainerStore Store => Engine.Store;

    private protected LayerStore Layers => Engine.Layers;

    private protected SquashfsMounts Squashfs => Engine.Squashfs;

    private protected Runtime Runtime => Engine.Runtime;

    private protected HostEnvironment Env => Engine.Env;

    private protected DateTimeOffset Now => Engine.Now;

    private protected string PreferredDriver => Engine.PreferredDriver;

    private protected VolumeStore Volumes => Engine.Volumes;

    private protected static JsonObject ImageRunConfig(JsonObject config) => ContainerEngine.ImageRunConfig(config);

    private protected static List<string>? Strings(JsonNode? node) => ContainerEngine.Strings(node);

    private protected IReadOnlyList<ContainerRecord> List() => Engine.List();

    private protected ContainerRecord Lookup(string nameOrId) => Engine.Lookup(nameOrId);

    private protected void Event(string status, ContainerRecord c, int exitCode = 0) => Engine.Event(status, c, exitCode);

    private protected void Progress(string line) => Engine.Progress(line);
}
