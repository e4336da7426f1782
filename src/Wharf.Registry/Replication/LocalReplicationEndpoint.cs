using Wharf.Content;
using Wharf.Oci;
using Wharf.Registry.Api;
using Wharf.Registry.Gc;
using Wharf.Registry.Metadata;
using Wharf.Registry.Projects;
using Wharf.Registry.Quotas;
using Wharf.Registry.Storage;

namespace Wharf.Registry.Replication;

/// <summary>
/// This wharfd's own store as a replication side. Writes go the way a push's do (blob committed after
/// its digest is checked, linked under the blob's lock within the project's quota; manifests stored
/// with their references checked), and the manifest cache of the repository is dropped after each.
/// A blob the store already holds for another repository is linked instead of copied (a mount).
/// </summary>
public sealed class LocalReplicationEndpoint(
    IMetadataStore metadata, IBlobStore blobs, BlobLocks locks, IProjectQuotas quotas, ManifestCache cache, IProjectStore projects) : IReplicationEndpoint
{
    /// <summary>What <see cref="CopyOptions.MountCandidates"/> names to let a local destination link a blob it already has.</summary>
    public const string AnyRepository = "*";

    public string Name => "local";

    private IMetadataStore Metadata => metadata;

    private IBlobStore Blobs => blobs;

    private BlobLocks Locks => locks;

    private IProjectQuotas Quotas => quotas;

    private ManifestCache Cache => cache;

    private IProjectStore Projects => projects;

    public async Task<IReadOnlyList<string>> ListRepositoriesAsync(CancellationToken cancellationToken)
    {
        var all = new List<string>();
        string? last = null;
        while (true)
        {
            var page = await Metadata.ListRepositoriesAsync(last, 1000, cancellationToken).ConfigureAwait(false);
            all.AddRange(page);
            if (page.Count < 1000)
            {
                return all;
            }

            last = page[^1];
        }
    }

    public IReplicationRepository Repository(string repository) =>
        new LocalRepository(this, RepositoryName.TryParse(repository, out var name, out string? error)
            ? name
            : throw new ContentException($"{repository} is not a repository name this registry accepts: {error}"));

    private sealed class LocalRepository(LocalReplicationEndpoint owner, RepositoryName repository) : IReplicationRepository
    {
        public string Path => repository.Value;

        public async Task PrepareAsync(CancellationToken cancellationToken)
        {
            if (!repository.Value.Contains('/', StringComparison.Ordinal))
            {
                throw new ContentException($"{repository} has no project: set dest_namespace to the project to replicate into");
            }

            if (await owner.Projects.FindByNameAsync(repository.Project, cancellationToken).ConfigureAwait(false) is null)
            {
                // Harbor creates a missing destination project (private, no owner but the admins).
                await owner.Projects.CreateAsync(repository.Project, false, null, null, cancellationToken).ConfigureAwait(false);
            }
        }

        public async Task<Descriptor> ResolveAsync(string reference, CancellationToken cancellationToken)
        {
            var manifest = await owner.Metadata.GetManifestAsync(repository, ManifestReference.Parse(reference), cancellationToken).ConfigureAwait(false)
                ?? throw new ContentException($"manifest {repository}:{reference} not found");
            return new Descriptor { MediaType = manifest.MediaType, Digest = manifest.Digest, Size = manifest.Content.Length };
        }

        public async Task<Stream> FetchAsync(Descriptor descriptor, CancellationToken cancellationToken)
        {
            if (MediaTypes.IsManifest(descriptor.MediaType))
            {
                var manifest = await owner.Metadata.GetManifestAsync(repository, descriptor.Digest, cancellationToken).ConfigureAwait(false)
                    ?? throw new ContentException($"manifest {repository}@{descriptor.Digest} not found");
                return new MemoryStream(manifest.Content, writable: false);
            }

            var digest = descriptor.Digest;
            if (await owner.Metadata.GetLinkedBlobSizeAsync(repository, digest, cancellationToken).ConfigureAwait(false) is null)
            {
                throw new ContentException($"blob {digest} not found in {repository}");
            }

            return owner.Blobs.OpenRead(digest);
        }

        public async Task<bool> ExistsAsync(Descriptor descriptor, CancellationToken cancellationToken) =>
            MediaTypes.IsManifest(descriptor.MediaType)
                ? await owner.Metadata.GetManifestAsync(repository, descriptor.Digest, cancellationToken).ConfigureAwait(false) is not null
                : await owner.Metadata.GetLinkedBlobSizeAsync(repository, descriptor.Digest, cancellationToken).ConfigureAwait(false) is not null;

        public async Task<Digest?> FindTagAsync(string tag, CancellationToken cancellationToken) =>
            (await owner.Metadata.GetManifestAsync(repository, ManifestReference.Parse(tag), cancellationToken).ConfigureAwait(false))?.Digest;

        public async Task<bool> MountAsync(Descriptor descriptor, string fromRepository, CancellationToken cancellationToken)
        {
            var digest = descriptor.Digest;
            if (owner.Blobs.Stat(digest) is not long size || size != descriptor.Size)
            {
                return false;
            }

            await LinkAsync(digest, cancellationToken).ConfigureAwait(false);
            return true;
        }

        public async Task PushAsync(Descriptor descriptor, Stream content, CancellationToken cancellationToken)
        {
            if (MediaTypes.IsManifest(descriptor.MediaType))
            {
                using var buffer = new MemoryStream();
                await content.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
                await PutManifestAsync(descriptor, buffer.ToArray(), [], cancellationToken).ConfigureAwait(false);
                return;
            }

            var digest = descriptor.Digest;
            string upload = "replication-" + Guid.NewGuid().ToString("N");
            owner.Blobs.CreateUpload(upload);
            try
            {
                await owner.Blobs.AppendAsync(upload, content, cancellationToken).ConfigureAwait(false);
                using (await owner.Locks.AcquireAsync(digest, cancellationToken).ConfigureAwait(false))
                {
                    await owner.Blobs.CommitAsync(upload, digest, cancellationToken).ConfigureAwait(false);
                }
            }
            catch
            {
                owner.Blobs.Cancel(upload);
                throw;
            }

            await LinkAsync(digest, cancellationToken).ConfigureAwait(false);
        }

        public async Task TagAsync(Descriptor descriptor, string reference, CancellationToken cancellationToken)
        {
            var manifest = await owner.Metadata.GetManifestAsync(repository, descriptor.Digest, cancellationToken).ConfigureAwait(false)
                ?? throw new ContentException($"manifest {repository}@{descriptor.Digest} not found");
            await PutManifestAsync(descriptor, manifest.Content, [reference], cancellationToken).ConfigureAwait(false);
        }

        public async Task<IReadOnlyList<string>> ListTagsAsync(CancellationToken cancellationToken)
        {
            var all = new List<string>();
            string? last = null;
            while (true)
            {
                var page = await owner.Metadata.ListTagsAsync(repository, last, 1000, cancellationToken).ConfigureAwait(false);
                all.AddRange(page);
                if (page.Count < 1000)
                {
                    return all;
                }

                last = page[^1];
            }
        }

        public async Task<IReadOnlyList<Descriptor>> ListReferrersAsync(Digest subject, CancellationToken cancellationToken) =>
            [.. (await owner.Metadata.ListReferrersAsync(repository, subject, null, cancellationToken).ConfigureAwait(false))
                .Select(r => new Descriptor { MediaType = r.MediaType, Digest = r.Digest, Size = r.Size, ArtifactType = r.ArtifactType })];

        public async Task<bool> DeleteAsync(string reference, CancellationToken cancellationToken)
        {
            bool deleted = Digest.TryParse(reference, out var digest)
                ? await owner.Metadata.DeleteManifestAsync(repository, digest, cancellationToken).ConfigureAwait(false)
                : await owner.Metadata.DeleteTagAsync(repository, reference, cancellationToken).ConfigureAwait(false);
            owner.Cache.Invalidate(repository.Value);
            return deleted;
        }

        private async Task LinkAsync(Digest digest, CancellationToken cancellationToken)
        {
            using (await owner.Locks.AcquireAsync(digest, cancellationToken).ConfigureAwait(false))
            {
                long size = owner.Blobs.Stat(digest) ?? throw new ContentException($"blob {digest} vanished before it was linked");
                long? limit = await owner.Quotas.GetLimitAsync(repository.Project, cancellationToken).ConfigureAwait(false);
                await ((IQuotaBlobLinkStore)owner.Metadata).LinkBlobAsync(repository, digest, size, limit, cancellationToken).ConfigureAwait(false);
            }
        }

        private async Task PutManifestAsync(Descriptor descriptor, byte[] body, IReadOnlyList<string> tags, CancellationToken cancellationToken)
        {
            var digest = descriptor.Digest;
            if (!digest.Matches(body))
            {
                throw new ContentException($"manifest {descriptor.Digest}: content does not match its digest");
            }

            var parsed = ManifestParser.Parse(body, descriptor.MediaType);
            await owner.Metadata.PutManifestAsync(repository, digest, parsed.MediaType, body, parsed, tags, owner.Quotas.GetLimitAsync, cancellationToken).ConfigureAwait(false);
            owner.Cache.Invalidate(repository.Value);
        }
    }
}
