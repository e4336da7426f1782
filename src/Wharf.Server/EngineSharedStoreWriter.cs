using Microsoft.Extensions.Logging;
using Wharf.Client;
using Wharf.Engine;
using Wharf.Engine.Storage;
using Wharf.Oci;
using Wharf.Registry;
using Wharf.Registry.SharedStore;

namespace Wharf.Server;

/// <summary>
/// wharfd's writer into the shared image store: the engine's own shared-store code, the same that
/// <c>wharf image publish</c> and <c>unpublish</c> run (src/Wharf.Engine/Storage/SharedStore.cs), so
/// the layout, the atomic index rename, the file modes (0755 directories, 0644 files, whatever
/// wharfd's umask) and the crash sweep are one implementation (docs/architecture.md). An image is
/// staged in a private engine store under the data directory (<c>shared-store-staging/</c>): its
/// blobs copied from the registry's blob store (digests verified again on the way), its layers
/// unpacked there, then published; the staging store is emptied after every publish. A name that
/// only moves onto an image the store already holds touches the index alone. One publish at a time.
/// </summary>
public sealed partial class EngineSharedStoreWriter : ISharedStoreWriter, IDisposable
{
    private readonly SharedStoreOptions _options;
    private readonly ILogger<EngineSharedStoreWriter> _logger;
    private readonly string _staging;
    private readonly SemaphoreSlim _gate = new(1, 1);

    public EngineSharedStoreWriter(SharedStoreOptions options, RegistryOptions registry, ILogger<EngineSharedStoreWriter> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(registry);
        _options = options;
        _logger = logger;
        _staging = Path.Combine(registry.DataDirectory, "shared-store-staging");
        // Whatever a killed publish staged: the store itself is swept by the next publish.
        RemoveStaging();
    }

    private string StorePath => Path.GetFullPath(_options.Path!);

    public async Task PublishAsync(string name, SharedStoreImage image, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var shared = new Engine.Storage.SharedStore(StorePath);
            List<string> previous;
            using (await shared.LockAsync(cancellationToken).ConfigureAwait(false))
            {
                var published = shared.Images.ReadLocalImages();
                previous = [.. published.Where(i => i.Names.Contains(name) && i.Digest != image.Manifest.Digest.ToString()).Select(i => i.Id)];
                if (published.FirstOrDefault(i => i.Digest == image.Manifest.Digest.ToString()) is { } there)
                {
                    // The image is there under another name (a second tag): the name moves, nothing is copied.
                    MoveName(shared, published, there, name, image.Index?.ToString());
                    return;
                }
            }

            await PublishThroughEngineAsync(name, image, cancellationToken).ConfigureAwait(false);
            if (previous.Count > 0)
            {
                // The tag moved: the image it named goes when no other name holds it.
                using (await shared.LockAsync(cancellationToken).ConfigureAwait(false))
                {
                    var published = shared.Images.ReadLocalImages();
                    if (published.RemoveAll(i => previous.Contains(i.Id) && i.Names.Count == 0) > 0)
                    {
                        shared.WriteIndex(published);
                        shared.Sweep(published);
                    }
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task UnpublishAsync(string name, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var shared = new Engine.Storage.SharedStore(StorePath);
            if (!File.Exists(Path.Combine(shared.Images.Root, "images.json")))
            {
                return;
            }

            using (await shared.LockAsync(cancellationToken).ConfigureAwait(false))
            {
                var published = shared.Images.ReadLocalImages();
                var carrying = published.Where(i => i.Names.Remove(name)).ToList();
                if (carrying.Count == 0)
                {
                    return;
                }

                published.RemoveAll(i => carrying.Contains(i) && i.Names.Count == 0);
                shared.WriteIndex(published);
                shared.Sweep(published);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();

    private static void MoveName(Engine.Storage.SharedStore shared, List<ImageRecord> published, ImageRecord target, string name, string? index)
    {
        if (target.Names.Contains(name) && (index is null || target.HasDigest(index)))
        {
            return;
        }

        if (index is not null)
        {
            ImageRecord.MoveListDigest(published, target, index);
        }

        var emptied = new List<ImageRecord>();
        foreach (var other in published.Where(i => !ReferenceEquals(i, target) && i.Names.Remove(name)))
        {
            if (other.Names.Count == 0)
            {
                emptied.Add(other);
            }
        }

        target.Names.Remove(name);
        target.Names.Insert(0, name);
        published.RemoveAll(emptied.Contains);
        shared.WriteIndex(published);
        if (emptied.Count > 0)
        {
            shared.Sweep(published);
        }
    }

    private async Task PublishThroughEngineAsync(string name, SharedStoreImage image, CancellationToken cancellationToken)
    {
        RemoveStaging();
        Directory.CreateDirectory(_staging);
        try
        {
            // The staging store reads the shared store as an additional store, as a node does: layers
            // already published as directories are not unpacked again.
            string conf = Path.Combine(_staging, "storage.conf");
            await File.WriteAllTextAsync(conf,
                $"[storage]\ndriver = \"overlay\"\ngraphroot = \"{Toml(Path.Combine(_staging, "root"))}\"\nrunroot = \"{Toml(Path.Combine(_staging, "run"))}\"\n\n"
                + $"[storage.options]\nadditionalimagestores = [\"{Toml(StorePath)}\"]\n", cancellationToken).ConfigureAwait(false);
            var current = HostEnvironment.Current;
            var environment = new HostEnvironment(
                v => v == "CONTAINERS_STORAGE_CONF" ? conf : Environment.GetEnvironmentVariable(v), current.Home, current.Uid, current.SystemConfigDirectory);
            using var progress = new StringWriter();
            var engine = new ImageEngine(new EngineOptions { Environment = environment, Progress = progress, EventsBackend = "none" });
            var manifest = ManifestParser.Parse(image.ManifestBytes, image.Manifest.MediaType);
            foreach (var blob in manifest.Layers.Prepend(manifest.Config!))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (!engine.Store.HasBlob(blob))
                {
                    var content = image.OpenBlob(blob.Digest);
                    await using (content.ConfigureAwait(false))
                    {
                        await engine.Store.WriteBlobAsync(blob, content, cancellationToken).ConfigureAwait(false);
                    }
                }
            }

            using (var body = new MemoryStream(image.ManifestBytes, writable: false))
            {
                await engine.Store.WriteBlobAsync(image.Manifest, body, cancellationToken).ConfigureAwait(false);
            }

            new LocalImageTarget(engine.Store).Register(image.Manifest, name);
            await engine.Local.PublishAsync(new PublishOptions(name, StorePath, _options.Format, image.Index?.ToString()), cancellationToken).ConfigureAwait(false);
            foreach (string line in progress.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                Log.EngineSaid(_logger, name, line);
            }
        }
        finally
        {
            RemoveStaging();
        }
    }

    private static string Toml(string path) => path.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);

    private void RemoveStaging()
    {
        if (Directory.Exists(_staging))
        {
            try
            {
                Directory.Delete(_staging, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.StagingLeft(_logger, _staging, e.Message);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1911, Level = LogLevel.Information, Message = "Publishing {Name}: {Line}")]
        public static partial void EngineSaid(ILogger logger, string name, string line);

        [LoggerMessage(EventId = 1912, Level = LogLevel.Warning, Message = "Could not remove the shared-store staging directory {Path}: {Reason}")]
        public static partial void StagingLeft(ILogger logger, string path, string reason);
    }
}
