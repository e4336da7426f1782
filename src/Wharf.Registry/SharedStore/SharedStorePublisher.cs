using System.Threading.Channels;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Oci;
using Wharf.Registry.Data;
using Wharf.Registry.Metadata;
using Wharf.Registry.Projects;
using Wharf.Registry.Storage;

namespace Wharf.Registry.SharedStore;

/// <summary>
/// Keeps the shared image store in step with the tags of the projects that publish into it
/// (docs/shared-store.md, "Publishing from the registry"). It works by reconciling, not by replaying
/// events: for a repository it compares the tags the database holds (when its project publishes)
/// with the names it has published (<see cref="SharedStoreRecords"/>), publishes what is new or
/// moved or failed before, and unpublishes what is gone. Events (a push, a tag or artifact delete,
/// retention, a project's setting) only name a repository to look at soon; a pass over every
/// publishing project at start and every <see cref="SharedStoreOptions.ReconcileInterval"/> catches
/// whatever an event did not bring (a crash after the 201, a full queue, another instance's push).
/// So a push never waits for a publish, and a restart resumes where the store and the database
/// disagree. With several instances the one holding the lease publishes.
/// </summary>
public sealed partial class SharedStorePublisher(
    SharedStoreOptions options,
    SharedStoreRecords records,
    IMetadataStore metadata,
    IProjectStore projects,
    IBlobStore blobs,
    TimeProvider time,
    ILogger<SharedStorePublisher> logger,
    IServer server,
    IHostApplicationLifetime lifetime,
    RegistryOptions registry,
    DatabaseLeases? leases = null,
    ISharedStoreWriter? writer = null) : BackgroundService
{
    private const string LeaseName = "shared-store:publisher";

    /// <summary>A repository to reconcile; "" asks for a pass over everything.</summary>
    private readonly Channel<string> _queue = Channel.CreateBounded<string>(
        new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    /// <summary>Projects that publish, as last read; events of other projects are not queued.</summary>
    private volatile HashSet<string> _projects = new(StringComparer.Ordinal);

    private volatile bool _fullPassWanted = true;

    private string? _host;

    /// <summary>The registry address published names start with.</summary>
    public string Host => _host ??= ResolveHost();

    /// <summary>A push or delete in <paramref name="repository"/>; never blocks.</summary>
    public void Offer(RepositoryName repository)
    {
        if (_projects.Contains(repository.Project) && !_queue.Writer.TryWrite(repository.Value))
        {
            _fullPassWanted = true;
        }
    }

    /// <summary>A project started or stopped publishing: every repository of it is looked at.</summary>
    public void ProjectChanged(string project, bool publishing)
    {
        var set = new HashSet<string>(_projects, StringComparer.Ordinal);
        if (publishing)
        {
            set.Add(project);
        }
        else
        {
            set.Remove(project);
        }

        _projects = set;
        _fullPassWanted = true;
        _queue.Writer.TryWrite("");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Enabled)
        {
            return;
        }

        // The listening address is known once the server has started (it names what is published).
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            await started.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
        }

        Log.Started(logger, options.Path!, Host, options.Format);
        var nextFullPass = time.GetUtcNow();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var due = new HashSet<string>(StringComparer.Ordinal);
                while (_queue.Reader.TryRead(out string? repository))
                {
                    if (repository.Length > 0)
                    {
                        due.Add(repository);
                    }
                }

                bool full = _fullPassWanted || time.GetUtcNow() >= nextFullPass;
                // Alone on its data directory (the embedded mode) this instance always publishes: the lease row a
                // killed predecessor left must not hold a restart back. Sharing it, the lease holder publishes.
                if ((full || due.Count > 0) && (leases is null || !registry.SharedDataDirectory || await leases.TryAcquireAsync(LeaseName, options.ReconcileInterval * 2, stoppingToken).ConfigureAwait(false)))
                {
                    if (full)
                    {
                        _fullPassWanted = false;
                        nextFullPass = time.GetUtcNow() + options.ReconcileInterval;
                        due.UnionWith(await AllRepositoriesAsync(stoppingToken).ConfigureAwait(false));
                    }

                    foreach (string repository in due.Order(StringComparer.Ordinal))
                    {
                        await ReconcileAsync(repository, stoppingToken).ConfigureAwait(false);
                    }
                }
                else if (full)
                {
                    nextFullPass = time.GetUtcNow() + options.ReconcileInterval;
                    _fullPassWanted = false;
                }

                if (!_queue.Reader.TryPeek(out _))
                {
                    var wait = nextFullPass - time.GetUtcNow();
                    if (wait > TimeSpan.Zero)
                    {
                        try
                        {
                            await _queue.Reader.WaitToReadAsync(stoppingToken).AsTask().WaitAsync(wait, time, stoppingToken).ConfigureAwait(false);
                        }
                        catch (TimeoutException)
                        {
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // The database went away for a moment: the next pass tries again.
                Log.PassFailed(logger, e.Message);
                _fullPassWanted = true;
                await Task.Delay(TimeSpan.FromSeconds(5), time, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Every repository of a publishing project, and every repository wharfd has published names of.</summary>
    private async Task<HashSet<string>> AllRepositoriesAsync(CancellationToken cancellationToken)
    {
        var publishing = await records.PublishingProjectsAsync(cancellationToken).ConfigureAwait(false);
        _projects = new HashSet<string>(publishing, StringComparer.Ordinal);
        var all = new HashSet<string>(await records.RepositoriesAsync(cancellationToken).ConfigureAwait(false), StringComparer.Ordinal);
        foreach (string project in publishing)
        {
            string? last = null;
            while (true)
            {
                var page = await metadata.ListProjectRepositoriesAsync(project, last, 1000, cancellationToken).ConfigureAwait(false);
                all.UnionWith(page);
                if (page.Count < 1000)
                {
                    break;
                }

                last = page[^1];
            }
        }

        return all;
    }

    /// <summary>Brings one repository's published names in line with its tags.</summary>
    internal async Task ReconcileAsync(string repositoryName, CancellationToken cancellationToken)
    {
        var current = await records.ListRepositoryAsync(repositoryName, cancellationToken).ConfigureAwait(false);
        var wanted = new Dictionary<string, Digest>(StringComparer.Ordinal);
        if (RepositoryName.TryParse(repositoryName, out var repository, out _)
            && await projects.FindByNameAsync(repository.Project, cancellationToken).ConfigureAwait(false) is { } project
            && await records.IsPublishingAsync(project.Id, cancellationToken).ConfigureAwait(false))
        {
            string? last = null;
            while (true)
            {
                var page = await metadata.ListTagsAsync(repository, last, 1000, cancellationToken).ConfigureAwait(false);
                foreach (string tag in page)
                {
                    if (Tag.TryParse(tag, out var parsed)
                        && await metadata.GetManifestAsync(repository, parsed, cancellationToken).ConfigureAwait(false) is { } manifest)
                    {
                        wanted[tag] = manifest.Digest;
                    }
                }

                if (page.Count < 1000)
                {
                    break;
                }

                last = page[^1];
            }
        }

        // Gone first: a tag deleted, its repository or project deleted, the project stopped publishing, the host renamed.
        foreach (var entry in current.Where(e => !wanted.ContainsKey(e.Tag) || e.Name != NameOf(repositoryName, e.Tag)))
        {
            try
            {
                await Writer().UnpublishAsync(entry.Name, cancellationToken).ConfigureAwait(false);
                await records.ForgetAsync(entry.Name, cancellationToken).ConfigureAwait(false);
                Log.Unpublished(logger, entry.Name);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                await records.RecordAsync(entry.Name, entry.Repository, entry.Tag, entry.Digest, SharedStoreRecords.Failed, "unpublishing: " + e.Message, cancellationToken).ConfigureAwait(false);
                Log.Failed(logger, entry.Name, "unpublish", e.Message);
            }
        }

        foreach (var (tag, digest) in wanted.OrderBy(w => w.Key, StringComparer.Ordinal))
        {
            string name = NameOf(repositoryName, tag);
            var entry = current.FirstOrDefault(e => e.Name == name);
            if (entry is { State: SharedStoreRecords.Published } && entry.Digest == digest.ToString())
            {
                continue;
            }

            try
            {
                await PublishAsync(repository, name, digest, cancellationToken).ConfigureAwait(false);
                await records.RecordAsync(name, repositoryName, tag, digest.ToString(), SharedStoreRecords.Published, null, cancellationToken).ConfigureAwait(false);
                Log.Published(logger, name, digest.ToString());
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                await records.RecordAsync(name, repositoryName, tag, digest.ToString(), SharedStoreRecords.Failed, e.Message, cancellationToken).ConfigureAwait(false);
                Log.Failed(logger, name, "publish", e.Message);
            }
        }
    }

    /// <summary>Publishes the manifest <paramref name="digest"/> (an index: its manifest for the store's platform).</summary>
    private async Task PublishAsync(RepositoryName repository, string name, Digest digest, CancellationToken cancellationToken)
    {
        var stored = await metadata.GetManifestAsync(repository, digest, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"manifest {digest} is no longer in {repository}");
        var parsed = ManifestParser.Parse(stored.Content, stored.MediaType);
        Digest? index = null;
        if (parsed.IsIndex)
        {
            index = digest;
            var (os, arch, variant) = options.PlatformParts();
            var matching = parsed.Manifests.Where(m => m.Platform is { } p && p.Os == os && p.Architecture == arch).ToList();
            var child = (variant is null ? matching.FirstOrDefault(m => m.Platform!.Variant is null) ?? matching.FirstOrDefault() : matching.FirstOrDefault(m => m.Platform!.Variant == variant))
                ?? throw new InvalidOperationException($"the index {digest} has no manifest for {os}/{arch}{(variant is null ? "" : "/" + variant)}, the platform this store is for");
            stored = await metadata.GetManifestAsync(repository, child.Digest, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"the index {digest} names {child.Digest}, which {repository} does not hold");
            parsed = ManifestParser.Parse(stored.Content, stored.MediaType);
            if (parsed.IsIndex)
            {
                throw new InvalidOperationException($"the index {digest} names another index for {os}/{arch}: not an image");
            }
        }

        if (parsed.Config is null || !(parsed.Config.MediaType is MediaTypes.OciConfig or MediaTypes.DockerConfig))
        {
            throw new InvalidOperationException($"{stored.Digest} is not a container image (config {parsed.Config?.MediaType ?? "missing"})");
        }

        var descriptor = new Descriptor { MediaType = parsed.MediaType, Digest = stored.Digest, Size = stored.Content.Length };
        await Writer().PublishAsync(name, new SharedStoreImage(descriptor, stored.Content, blobs.OpenRead, index), cancellationToken).ConfigureAwait(false);
    }

    private ISharedStoreWriter Writer() =>
        writer ?? throw new InvalidOperationException("this wharfd has no shared image store writer (the wharfd host supplies it)");

    private string NameOf(string repository, string tag) => $"{Host}/{repository}:{tag}";

    /// <summary><see cref="SharedStoreOptions.Host"/>, else the first address wharfd listens on (a wildcard address: this machine's name).</summary>
    private string ResolveHost()
    {
        if (!string.IsNullOrWhiteSpace(options.Host))
        {
            return options.Host.Trim().TrimEnd('/');
        }

        string? address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (address is null || !Uri.TryCreate(address.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri))
        {
            return System.Net.Dns.GetHostName();
        }

        string host = uri.Host is "0.0.0.0" or "[::]" or "::" ? System.Net.Dns.GetHostName() : uri.Host;
        return uri.IsDefaultPort ? host : $"{host}:{uri.Port}";
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1901, Level = LogLevel.Information, Message = "Publishing into the shared image store {Path} as {Host} ({Format})")]
        public static partial void Started(ILogger logger, string path, string host, string format);

        [LoggerMessage(EventId = 1902, Level = LogLevel.Information, Message = "Published {Name} ({Digest}) into the shared image store")]
        public static partial void Published(ILogger logger, string name, string digest);

        [LoggerMessage(EventId = 1903, Level = LogLevel.Information, Message = "Unpublished {Name} from the shared image store")]
        public static partial void Unpublished(ILogger logger, string name);

        [LoggerMessage(EventId = 1904, Level = LogLevel.Warning, Message = "Shared image store: {Operation} of {Name} failed: {Reason}")]
        public static partial void Failed(ILogger logger, string name, string operation, string reason);

        [LoggerMessage(EventId = 1905, Level = LogLevel.Warning, Message = "Shared image store: a reconcile pass failed: {Reason}")]
        public static partial void PassFailed(ILogger logger, string reason);
    }
}
