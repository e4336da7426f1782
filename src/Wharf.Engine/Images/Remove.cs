using Wharf.Engine.Storage;

namespace Wharf.Engine;

public sealed record RemoveImagesOptions
{
    public IReadOnlyList<string> Images { get; init; } = [];

    public bool Force { get; init; }

    public bool All { get; init; }

    /// <summary><c>-i</c>: a name that matches no image is no error.</summary>
    public bool Ignore { get; init; }

    /// <summary>
    /// How <c>-f</c> removes a container created from an image about to be deleted (stopping it
    /// first); the container engine supplies it. Without it, a used image is refused even with -f.
    /// </summary>
    public Action<Containers.ContainerRecord>? RemoveContainer { get; init; }
}

/// <summary>Lines in podman's order: <c>Untagged: NAME</c> and <c>Deleted: ID</c>.</summary>
public sealed record RemoveImagesReport(IReadOnlyList<string> Untagged, IReadOnlyList<string> Deleted, IReadOnlyList<(string Kind, string Value)> Lines);

public sealed record PruneOptions(bool All);

public sealed record PruneReport(IReadOnlyList<string> Deleted, long Reclaimed);

public sealed partial class LocalImages
{
    /// <summary>
    /// podman rmi: by name removes that name and deletes the image when it was the last; by ID
    /// deletes the image (refusing, without -f, when it has several names). An image a container was
    /// created from is never deleted without -f (exit 2, as podman); with -f those containers go
    /// first. Removing one of several names only untags, so it never touches containers. Blobs no
    /// image needs are deleted afterwards.
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
            // podman's rmi -a passes over the images of read-only stores without a word.
            targets.AddRange(Store.ReadImages().Where(i => !i.ReadOnly).Select(i => (i, (string?)null)));
        }

        var errors = new List<WharfException>();
        foreach (string input in options.Images)
        {
            var image = ImageNames.Lookup(Store.ReadImages(), input, Registries.UnqualifiedSearchRegistries);
            if (image is null)
            {
                if (!options.Ignore)
                {
                    errors.Add(new WharfException($"{input}: image not known", 1));
                }

                continue;
            }

            if (image.ReadOnly)
            {
                // podman's words for an image of an additionalimagestores store.
                errors.Add(new WharfException($"cannot remove read-only image \"{image.Id}\""));
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

        targets = RefuseOrRemoveUsers(targets, options, errors);

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
            // podman prints what it did remove, then fails with all the errors.
            throw new RemoveImagesPartialException(new RemoveImagesReport(untagged, deleted, lines), JoinErrors(errors));
        }

        return new RemoveImagesReport(untagged, deleted, lines);
    }

    /// <summary>
    /// The targets that would delete an image some container was created from: without -f they are
    /// dropped with podman's error, with -f their containers are removed (before any image, as
    /// podman). Untagging one of several names keeps the image, so its containers are left alone.
    /// </summary>
    private List<(ImageRecord Image, string? Name)> RefuseOrRemoveUsers(List<(ImageRecord Image, string? Name)> targets, RemoveImagesOptions options, List<WharfException> errors)
    {
        var users = new Containers.ContainerStore(Storage.GraphRoot, Storage.RunRoot, Time).List().ToLookup(c => c.ImageId, StringComparer.Ordinal);
        var namesLeft = targets.Select(t => t.Image).DistinctBy(i => i.Id).ToDictionary(i => i.Id, i => i.Names.Count, StringComparer.Ordinal);
        var kept = new List<(ImageRecord Image, string? Name)>();
        var removedFor = new HashSet<string>(StringComparer.Ordinal);
        foreach (var target in targets)
        {
            if (target.Name is not null && namesLeft[target.Image.Id] > 1)
            {
                namesLeft[target.Image.Id]--;
                kept.Add(target);
                continue;
            }

            var holders = users[target.Image.Id].ToList();
            if (holders.Count == 0 || removedFor.Contains(target.Image.Id))
            {
                kept.Add(target);
                continue;
            }

            if (!options.Force || options.RemoveContainer is null)
            {
                errors.Add(new WharfException(
                    $"image used by {holders[0].Id}: image is in use by a container: consider listing external containers and force-removing image", 2));
                continue;
            }

            foreach (var container in holders)
            {
                options.RemoveContainer(container);
            }

            removedFor.Add(target.Image.Id);
            kept.Add(target);
        }

        return kept;
    }

    /// <summary>
    /// podman's joined errors: one is printed as is, several as "N errors occurred:" with one
    /// "\t* " line each. The exit code is 2 when an image is in use, else 125 for any other failure,
    /// else 1 (only unknown images).
    /// </summary>
    private static WharfException JoinErrors(List<WharfException> errors)
    {
        if (errors.Count == 1)
        {
            return errors[0];
        }

        int code = errors.Any(e => e.ExitCode == 2) ? 2 : errors.Any(e => e.ExitCode == 125) ? 125 : 1;
        return new WharfException($"{errors.Count} errors occurred:\n" + string.Join('\n', errors.Select(e => "\t* " + e.Message)), code);
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
        var used = new Containers.ContainerStore(Storage.GraphRoot, Storage.RunRoot, Time).List().Select(c => c.ImageId).ToHashSet(StringComparer.Ordinal);
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
