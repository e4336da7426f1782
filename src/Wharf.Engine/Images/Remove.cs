using Wharf.Engine.Storage;

namespace Wharf.Engine;

public sealed record RemoveImagesOptions
{
    public IReadOnlyList<string> Images { get; init; } = [];

    public bool Force { get; init; }

    public bool All { get; init; }
}

/// <summary>Lines in podman's order: <c>Untagged: NAME</c> and <c>Deleted: ID</c>.</summary>
public sealed record RemoveImagesReport(IReadOnlyList<string> Untagged, IReadOnlyList<string> Deleted, IReadOnlyList<(string Kind, string Value)> Lines);

public sealed record PruneOptions(bool All);

public sealed record PruneReport(IReadOnlyList<string> Deleted, long Reclaimed);

public sealed partial class ImageEngine
{
    /// <summary>
    /// podman rmi: by name removes that name and deletes the image when it was the last; by ID
    /// deletes the image (refusing, without -f, when it has several names). Blobs no image needs
    /// are deleted afterwards.
    /// </summary>
    public RemoveImagesReport RemoveImages(RemoveImagesOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var lines = new List<(string, string)>();
        var untagged = new List<string>();
        var deleted = new List<string>();
        var targets = new List<(ImageRecord Image, string? Name)>();
        if (options.All)
        {
            targets.AddRange(Store.ReadImages().Select(i => (i, (string?)null)));
        }

        var errors = new List<WharfException>();
        foreach (string input in options.Images)
        {
            var image = ImageNames.Lookup(Store.ReadImages(), input, Registries.UnqualifiedSearchRegistries);
            if (image is null)
            {
                errors.Add(new WharfException($"{input}: image not known", 1));
                continue;
            }

            bool byId = IsIdReference(image, input);
            if (byId && image.Names.Count > 1 && !options.Force)
            {
                errors.Add(new WharfException(
                    $"unable to delete image \"{image.Id}\" by ID with more than one tag ([{string.Join(' ', image.Names)}]): please force removal"));
                continue;
            }

            targets.Add((image, byId ? null : ResolveOwnName(image, input)));
        }

        var events = new List<(string Status, string Id, string? Name)>();
        Store.Update(images =>
        {
            foreach (var (target, name) in targets)
            {
                var record = images.FirstOrDefault(i => i.Id == target.Id);
                if (record is null)
                {
                    continue;
                }

                if (name is not null && record.Names.Count > 1)
                {
                    record.Names.Remove(name);
                    untagged.Add(name);
                    lines.Add(("Untagged", name));
                    events.Add(("untag", record.Id, name));
                    continue;
                }

                foreach (string n in record.Names)
                {
                    untagged.Add(n);
                    lines.Add(("Untagged", n));
                    events.Add(("untag", record.Id, n));
                }

                events.Add(("remove", record.Id, record.Names.FirstOrDefault()));

                images.Remove(record);
                deleted.Add(record.Id);
                lines.Add(("Deleted", record.Id));
            }

            return 0;
        });

        foreach (var (status, id, eventName) in events)
        {
            Events.Image(status, id, eventName);
        }

        // Only once the new index is in place: a crash in between leaves unreferenced blobs (collected
        // next time), never an index that lists an image whose blobs are gone.
        Store.Locked(Store.CollectGarbage);
        CollectUnusedLayers();

        if (errors.Count > 0)
        {
            // podman prints what it did remove, then fails with the first error.
            throw new RemoveImagesPartialException(new RemoveImagesReport(untagged, deleted, lines), errors[0]);
        }

        return new RemoveImagesReport(untagged, deleted, lines);
    }

    private static bool IsIdReference(ImageRecord image, string input)
    {
        string id = ImageNames.WithoutSha256Prefix(input);
        return id.Length > 0 && image.Id.StartsWith(id, StringComparison.Ordinal) && !image.Names.Any(n => ImageNames.Split(n).Repository.EndsWith("/" + id, StringComparison.Ordinal));
    }

    /// <summary>
    /// podman image prune: dangling images (no names), or with -a every image; never one a container
    /// was created from. Blobs and unpacked layers nothing uses any more go with them.
    /// </summary>
    public PruneReport Prune(PruneOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var deleted = new List<string>();
        long reclaimed = 0;
        var used = new Containers.ContainerStore(Storage.GraphRoot, Storage.RunRoot).List().Select(c => c.ImageId).ToHashSet(StringComparer.Ordinal);
        Store.Update(images =>
        {
            foreach (var image in images.Where(i => (options.All || i.Names.Count == 0) && !used.Contains(i.Id)).ToList())
            {
                images.Remove(image);
                deleted.Add(image.Id);
            }

            return 0;
        });
        reclaimed = Store.Locked(Store.CollectGarbage);
        reclaimed += CollectUnusedLayers();
        return new PruneReport(deleted, reclaimed);
    }
}

/// <summary>Some of an rmi's images were removed before one failed.</summary>
public sealed class RemoveImagesPartialException(RemoveImagesReport report, WharfException error) : Exception(error.Message, error)
{
    public RemoveImagesReport Report { get; } = report;

    public WharfException Error { get; } = error;
}
