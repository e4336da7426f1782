using Wharf.Engine.Storage;

namespace Wharf.Engine;

public sealed record ListImagesOptions
{
    public bool All { get; init; }

    /// <summary><c>--filter key=value</c>; reference=, dangling=, id= are understood.</summary>
    public IReadOnlyList<string> Filters { get; init; } = [];

    /// <summary><c>--store DIR</c>: list only the images published in that shared store.</summary>
    public string? Store { get; init; }
}

/// <summary>One row of <c>images</c>: one per name (a dangling image is one row with no name).</summary>
public sealed record ImageSummary(ImageRecord Image, string Repository, string Tag)
{
    public string Id => Image.Id;

    public IEnumerable<string> RepoDigests => LocalImages.RepoDigests(Image);
}

public sealed record ListImagesReport(IReadOnlyList<ImageSummary> Rows);

public sealed partial class LocalImages
{
    public ListImagesReport ListImages(ListImagesOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var filters = options.Filters.Select(ParseFilter).ToList();
        var rows = new List<ImageSummary>();
        var images = options.Store is { } store ? PublishedImages(store) : Store.ReadImages();
        var intermediates = IntermediateImages(images);
        var intermediate = options.All || filters.Any(f => f.Key == "intermediate") ? [] : intermediates;
        foreach (var (key, value) in filters.Where(f => f.Key is "before" or "since"))
        {
            _ = ImageNames.Lookup(images, value, Registries.UnqualifiedSearchRegistries)
                ?? throw new WharfException($"could not find local image for filter filter \"{key}\"=\"{value}\": {value}: image not known");
        }

        bool MatchesFilter(ImageRecord image, (string Key, string Value) filter) => filter.Key switch
        {
            "before" => image.Created < ImageNames.Lookup(images, filter.Value, Registries.UnqualifiedSearchRegistries)!.Created,
            "since" => image.Created > ImageNames.Lookup(images, filter.Value, Registries.UnqualifiedSearchRegistries)!.Created,
            "intermediate" => intermediates.Contains(image.Id) == filter.Value.Equals("true", StringComparison.OrdinalIgnoreCase),

            // Images of additionalimagestores are read-only, the user's own store's are not.
            "readonly" => image.ReadOnly == filter.Value.Equals("true", StringComparison.OrdinalIgnoreCase),
            "label" => LabelMatches(image, filter.Value),
            _ => MatchesSimpleFilter(image, filter),
        };

        // Filters pick images; a picked image shows every one of its names, as podman 4 does.
        foreach (var image in images.OrderByDescending(i => i.Created).ThenByDescending(i => i.Added))
        {
            if (intermediate.Contains(image.Id) || !filters.All(f => MatchesFilter(image, f)))
            {
                continue;
            }

            if (image.Names.Count == 0)
            {
                rows.Add(new ImageSummary(image, "<none>", "<none>"));
                continue;
            }

            foreach (string name in image.Names.Order(StringComparer.Ordinal))
            {
                var (repo, tag) = ImageNames.Split(name);
                rows.Add(new ImageSummary(image, repo, tag));
            }
        }

        return new ListImagesReport(rows);
    }

    /// <summary>
    /// podman's intermediate images, hidden from <c>images</c> without <c>-a</c>: an image with no
    /// name that is the parent of another image (a build step's result), i.e. another image's
    /// layers and history start with all of its own and go on. A dangling image nothing builds on
    /// is not intermediate and stays listed.
    /// </summary>
    internal HashSet<string> IntermediateImages(IReadOnlyList<ImageRecord> images)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        if (!images.Any(i => i.Names.Count == 0))
        {
            return ids;
        }

        var writer = new Images.ImageWriter(Store);
        var configs = new Dictionary<string, Oci.ImageConfig>(StringComparer.Ordinal);
        foreach (var image in images)
        {
            try
            {
                configs[image.Id] = writer.ReadConfig(image);
            }
            catch (Exception e) when (e is IOException or WharfException or FormatException or InvalidDataException or Oci.OciException)
            {
                // A damaged image is listed as it is (system check reports it), never hidden.
            }
        }

        foreach (var parent in images.Where(i => i.Names.Count == 0 && configs.ContainsKey(i.Id)))
        {
            var p = configs[parent.Id];
            if (images.Any(child => child.Id != parent.Id && configs.TryGetValue(child.Id, out var c) && IsParent(p, c)))
            {
                ids.Add(parent.Id);
            }
        }

        return ids;
    }

    private static bool IsParent(Oci.ImageConfig parent, Oci.ImageConfig child)
    {
        var ph = parent.History ?? [];
        var ch = child.History ?? [];
        var pl = parent.RootFs.DiffIds;
        var cl = child.RootFs.DiffIds;
        return ph.Count > 0 && ch.Count > ph.Count && cl.Count >= pl.Count
            && pl.SequenceEqual(cl.Take(pl.Count), StringComparer.Ordinal)
            && ph.SequenceEqual(ch.Take(ph.Count));
    }

    internal static IEnumerable<string> RepoDigests(ImageRecord image) =>
        image.Names.Select(n => ImageNames.Split(n).Repository).Distinct(StringComparer.Ordinal).Select(r => r + "@" + image.Digest);

    private static (string Key, string Value) ParseFilter(string filter)
    {
        int eq = filter.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            throw new WharfException($"invalid image filter \"{filter}\": must be in the format \"filter=value\"");
        }

        string key = filter[..eq];
        if (key is not ("reference" or "dangling" or "id" or "digest" or "before" or "since" or "label" or "intermediate" or "readonly"))
        {
            throw new WharfException($"unsupported image filter \"{key}\"");
        }

        return (key, filter[(eq + 1)..]);
    }

    /// <summary>label=KEY or label=KEY=VALUE against the image config's labels.</summary>
    private bool LabelMatches(ImageRecord image, string filter)
    {
        var labels = Describe(image)["Labels"] as System.Text.Json.Nodes.JsonObject;
        int eq = filter.IndexOf('=', StringComparison.Ordinal);
        string key = eq < 0 ? filter : filter[..eq];
        return labels is not null && labels.TryGetPropertyValue(key, out var v) && (eq < 0 || v?.ToString() == filter[(eq + 1)..]);
    }

    private static bool MatchesSimpleFilter(ImageRecord image, (string Key, string Value) filter) => filter.Key switch
    {
        "reference" => image.Names.Any(n => ReferenceMatches(filter.Value, n)),
        "dangling" => (image.Names.Count == 0) == filter.Value.Equals("true", StringComparison.OrdinalIgnoreCase),
        "id" => image.Id.StartsWith(filter.Value.Replace("sha256:", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal),
        "digest" => image.Digest == filter.Value,
        _ => true,
    };

    /// <summary>
    /// podman's reference filter: a glob against the full name, or against it without the
    /// registry, with or without the tag.
    /// </summary>
    internal static bool ReferenceMatches(string pattern, string name)
    {
        var (repo, tag) = ImageNames.Split(name);
        int slash = repo.IndexOf('/', StringComparison.Ordinal);
        string path = slash >= 0 ? repo[(slash + 1)..] : repo;
        string last = repo[(repo.LastIndexOf('/') + 1)..];
        foreach (string candidate in new[] { name, repo, path, path + ":" + tag, last, last + ":" + tag })
        {
            if (Glob(pattern, candidate))
            {
                return true;
            }
        }

        return false;
    }

    internal static bool Glob(string pattern, string text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t]) && pattern[p] != '*')
            {
                p++;
                t++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
