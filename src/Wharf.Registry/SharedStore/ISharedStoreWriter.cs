using Wharf.Oci;

namespace Wharf.Registry.SharedStore;

/// <summary>
/// One image as the registry holds it, handed to a <see cref="ISharedStoreWriter"/>: the manifest's
/// exact bytes and a way to open each blob it names straight from the registry's blob store.
/// </summary>
public sealed record SharedStoreImage(Descriptor Manifest, byte[] ManifestBytes, Func<Digest, Stream> OpenBlob, Digest? Index = null);

/// <summary>
/// Writes into the shared image store. The registry decides what is published under which name
/// (<see cref="SharedStorePublisher"/>); the writer is the engine's shared-store code, which the
/// wharfd host supplies (src/Wharf.Server/EngineSharedStoreWriter.cs), so the registry library
/// itself does not depend on the container engine. Both calls are idempotent.
/// </summary>
public interface ISharedStoreWriter
{
    /// <summary>Publishes the image under <paramref name="name"/> (<c>host/project/repo:tag</c>); the name moves from any other image.</summary>
    Task PublishAsync(string name, SharedStoreImage image, CancellationToken cancellationToken);

    /// <summary>Takes <paramref name="name"/> off whatever image carries it; an image left without names goes, with content no other image uses.</summary>
    Task UnpublishAsync(string name, CancellationToken cancellationToken);
}
