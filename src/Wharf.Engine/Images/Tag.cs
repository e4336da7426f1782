using Wharf.Engine.Storage;

namespace Wharf.Engine;

public sealed record TagOptions(string Image, IReadOnlyList<string> NewNames);

public sealed record UntagOptions(string Image, IReadOnlyList<string> Names);

public sealed partial class LocalImages
{
    /// <summary>Finds a local image by name, ID or ID prefix, or fails as podman: <c>NAME: image not known</c>.</summary>
    public ImageRecord LookupImage(string input, int exitCodeWhenMissing = 125)
    {
        ArgumentNullException.ThrowIfNull(input);
        return ImageNames.Lookup(Store.ReadImages(), input, Registries.UnqualifiedSearchRegistries)
            ?? throw new WharfException($"{input}: image not known", exitCodeWhenMissing);
    }

    /// <summary>
    /// podman tag: each new name (bare names get <c>localhost/</c>, <c>:latest</c>) moves to the
    /// image and goes after the names it has (containers/storage appends: RepoTags and
    /// <c>images</c> list the oldest name first); a name it has already keeps its place.
    /// </summary>
    public void Tag(TagOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var names = options.NewNames.Select(ImageNames.ForNewImage).ToList();
        var image = LookupImage(options.Image);
        RefuseReadOnly(image, options.Image);
        Store.Update(images =>
        {
            var record = images.FirstOrDefault(i => i.Id == image.Id) ?? throw new WharfException($"{options.Image}: image not known");
            foreach (string name in names)
            {
                if (record.Names.Contains(name))
                {
                    continue;
                }

                foreach (var other in images)
                {
                    other.Names.Remove(name);
                }

                record.Names.Add(name);
            }

            return 0;
        });
        foreach (string name in names)
        {
            Events.Image("tag", image.Id, name);
        }
    }

    /// <summary>podman untag: removes the given names, or every name, leaving the image.</summary>
    public void Untag(UntagOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var image = LookupImage(options.Image);
        RefuseReadOnly(image, options.Image);
        var names = options.Names.Select(n => ResolveOwnName(image, n)).ToList();
        Store.Update(images =>
        {
            var record = images.First(i => i.Id == image.Id);
            if (names.Count == 0)
            {
                names.AddRange(record.Names);
                record.Names.Clear();
            }
            else
            {
                foreach (string n in names)
                {
                    record.Names.Remove(n);
                }
            }

            return 0;
        });
        foreach (string n in names)
        {
            Events.Image("untag", image.Id, n);
        }
    }

    /// <summary>Names of an image in a read-only store are the publisher's (docs/shared-store.md).</summary>
    private static void RefuseReadOnly(ImageRecord image, string input)
    {
        if (image.ReadOnly)
        {
            throw new WharfException($"{input}: image {image.ShortId} is in the read-only image store \"{image.ReadOnlyStore}\": its names are changed with \"wharf image publish\"");
        }
    }

    /// <summary>A name the user gave for an image it has: as typed, with localhost/, or by repository suffix.</summary>
    private string ResolveOwnName(ImageRecord image, string input)
    {
        var found = ImageNames.Lookup([image], input, Registries.UnqualifiedSearchRegistries);
        if (found is null)
        {
            throw new WharfException($"{input}: tag not known");
        }

        var r = ImageNames.Parse(input);
        foreach (string candidate in new[] { ImageNames.Qualified(r with { Domain = r.Domain ?? "localhost" }), ImageNames.Qualified(r.Normalize()) })
        {
            if (image.Names.Contains(candidate))
            {
                return candidate;
            }
        }

        string suffix = "/" + ImageNames.Qualified(r).Split('/', 2)[^1];
        return image.Names.FirstOrDefault(n => n.EndsWith(suffix, StringComparison.Ordinal) || n.EndsWith("/" + (r.Tag is null ? r.Path + ":latest" : r.Path + ":" + r.Tag), StringComparison.Ordinal))
            ?? throw new WharfException($"{input}: tag not known");
    }
}
