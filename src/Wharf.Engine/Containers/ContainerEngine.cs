using System.Text.Json.Nodes;
using Wharf.Client;
using Wharf.Engine.Storage;

namespace Wharf.Engine.Containers;

/// <summary>
/// podman's container domain on an OCI runtime: each verb takes <c>XxxOptions</c> and returns what
/// the command line prints. Verbs live in <c>ContainerEngine.Xxx.cs</c> partial files.
/// </summary>
public sealed partial class ContainerEngine
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
    }

    /// <summary>This node's mounts of shared squashfs layers (docs/shared-store.md).</summary>
    public SquashfsMounts Squashfs { get; }

    public ContainerStore Store { get; }

    public LayerStore Layers { get; }

    public ImageEngine Images => _images;

    private HostEnvironment Env => _images.Environment;

    private DateTimeOffset Now => _images.Time.GetUtcNow();

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
    private string PreferredDriver => _images.RootfsDriver ?? (Env.Get("WHARF_ROOTFS_DRIVER") is { Length: > 0 } d ? d : "overlay");

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

    /// <summary>The image config's <c>config</c> object, or an empty one.</summary>
    private static JsonObject ImageRunConfig(JsonObject config) => config["config"] as JsonObject ?? [];

    private static List<string>? Strings(JsonNode? node) =>
        node is JsonArray a ? [.. a.Select(n => n?.GetValue<string>() ?? string.Empty)] : null;

    private void Event(string status, ContainerRecord c, int exitCode = 0) => _images.Events.Container(status, c, exitCode);

    private void Progress(string line)
    {
        _progress.WriteLine(line);
        _progress.Flush();
    }
}
