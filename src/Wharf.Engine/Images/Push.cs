using Wharf.Client;
using Wharf.Content;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine;

public sealed record PushOptions : RegistryAccess
{
    public required string Source { get; init; }

    /// <summary>Where to push; the source's own name when null.</summary>
    public string? Destination { get; init; }

    public bool Quiet { get; init; }

    /// <summary><c>--digestfile</c>: where to write the pushed manifest digest.</summary>
    public string? DigestFile { get; init; }
}

public sealed record PushReport(string Destination, string ManifestDigest);

public sealed partial class RegistryImages
{
    /// <summary>
    /// podman push: blobs the destination has are skipped, blobs another repository of the same
    /// registry is known to hold are mounted, the rest are uploaded; the manifest goes last.
    /// </summary>
    public async Task<PushReport> PushAsync(PushOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var image = Engine.Local.LookupImage(options.Source);
        string destinationText = options.Destination ?? (ImageNames.Parse(options.Source).Domain is not null
            ? options.Source
            : image.Names.FirstOrDefault() ?? throw new WharfException($"{options.Source}: no destination given for an image without a name"));
        var destination = ImageNames.Parse(destinationText);
        if (destination.Domain is null)
        {
            destination = destination.Normalize();
        }

        string name = ImageNames.Qualified(destination);
        if (Registries.IsBlocked(destination.Name))
        {
            throw new WharfException($"trying to reuse blob in destination: registry {destination.Domain} is blocked in {Registries.SourcesDescription}");
        }

        using var client = CreateClient(destination.Domain!, destination.Name, options);
        var repository = client.Repository(destination.Path);
        var source = new LocalImageTarget(Store, Options.Time);
        var manifest = LocalImageTarget.ManifestDescriptor(image);
        var mountSources = image.Locations
            .Where(l => l.StartsWith(destination.Domain + "/", StringComparison.Ordinal))
            .Select(l => l[(destination.Domain!.Length + 1)..])
            .Where(p => p != destination.Path)
            .Distinct(StringComparer.Ordinal)
            .ToList();

        Log(options.Quiet, "Getting image source signatures");
        var progress = options.Quiet ? null : Options.TransferProgress;
        var route = progress.Route(line => Log(options.Quiet, line));
        try
        {
            string tag = destination.Digest?.ToString() ?? destination.Tag ?? "latest";
            await CopyEngine.CopyGraphAsync(source, repository, manifest, new CopyOptions
            {
                IsTransient = IsTransient,
                RootReference = destination.Digest is null ? tag : null,
                MountCandidates = _ => mountSources,
                Progress = route.Events,
                Transferred = route.Bytes,
            }, cancellationToken).ConfigureAwait(false);
            progress?.Complete();
        Log(options.Quiet, "Writing manifest to image destination");
        }
        catch (Exception e) when (e is RegistryException or ContentException or HttpRequestException)
        {
            // A registry that wants credentials it did not get: say what to do next.
            string next = Unauthorized(e) ? $"; log in with \"wharf login {destination.Domain}\" and push again" : string.Empty;
            throw new WharfException($"writing blob: {e.Message}{next}", e);
        }

        Log(options.Quiet, "Storing signatures");
        Store.Update(images =>
        {
            if (images.FirstOrDefault(i => i.Id == image.Id) is { } record && !record.Locations.Contains(destination.Name))
            {
                record.Locations.Add(destination.Name);
            }

            return 0;
        });
        if (options.DigestFile is { } file)
        {
            await File.WriteAllTextAsync(file, image.Digest, cancellationToken).ConfigureAwait(false);
        }

        Events.Image("push", image.Id, name);
        return new PushReport(name, image.Digest);
    }

    private static bool Unauthorized(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is RegistryException { Status: System.Net.HttpStatusCode.Unauthorized })
            {
                return true;
            }
        }

        return false;
    }
}
