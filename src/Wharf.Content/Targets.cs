using Wharf.Oci;

namespace Wharf.Content;

/// <summary>Reads content by descriptor. Implementations verify digest and size of what they return.</summary>
public interface IFetchable
{
    Task<Stream> FetchAsync(Descriptor descriptor, CancellationToken cancellationToken);
}

/// <summary>Accepts content by descriptor; the content must hash to the descriptor's digest and have its size.</summary>
public interface IPushable
{
    Task PushAsync(Descriptor descriptor, Stream content, CancellationToken cancellationToken);
}

public interface IExistence
{
    Task<bool> ExistsAsync(Descriptor descriptor, CancellationToken cancellationToken);
}

/// <summary>Turns a tag or digest into the descriptor of the manifest it names.</summary>
public interface IResolvable
{
    Task<Descriptor> ResolveAsync(string reference, CancellationToken cancellationToken);
}

/// <summary>Points a tag at a manifest already present.</summary>
public interface ITaggable
{
    Task TagAsync(Descriptor descriptor, string reference, CancellationToken cancellationToken);
}

/// <summary>A destination that can link a blob from another repository of the same registry without copying it.</summary>
public interface IMountable
{
    /// <summary>Returns true when the blob was mounted; false when the destination declined.</summary>
    Task<bool> MountAsync(Descriptor descriptor, string fromRepository, CancellationToken cancellationToken);
}

/// <summary>Stores a manifest under a tag in one step (a registry's <c>PUT /manifests/&lt;tag&gt;</c>).</summary>
public interface IReferencePushable
{
    Task PushReferenceAsync(Descriptor descriptor, Stream content, string reference, CancellationToken cancellationToken);
}

public interface IReadOnlyStorage : IFetchable, IExistence;

public interface IStorage : IReadOnlyStorage, IPushable;

public interface IReadOnlyTarget : IReadOnlyStorage, IResolvable;

public interface ITarget : IStorage, IReadOnlyTarget, ITaggable;
