using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine;

/// <summary>How podman turns what a user typed into stored names and finds local images by them.</summary>
public static class ImageNames
{
    /// <summary>Strips a <c>docker://</c> transport prefix, which podman accepts on pull and push.</summary>
    public static string StripTransport(string input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.StartsWith("docker://", StringComparison.Ordinal) ? input[9..] : input;
    }

    public static Reference Parse(string input)
    {
        if (!Reference.TryParse(StripTransport(input), out var reference, out var error))
        {
            throw new WharfException(error);
        }

        return reference;
    }

    /// <summary>The full stored name: docker normalisation for qualified names, <c>:latest</c> when no tag or digest.</summary>
    public static string Qualified(Reference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var r = reference.Domain is null ? reference : reference.Normalize();
        if (r.Tag is null && r.Digest is null)
        {
            r = r with { Tag = "latest" };
        }

        return r.ToString();
    }

    /// <summary>A name for a new local image: a bare name gets <c>localhost/</c> (podman tag, commit, load).</summary>
    public static string ForNewImage(string input)
    {
        var r = Parse(input);
        if (r.Domain is null)
        {
            r = r with { Domain = "localhost" };
        }

        return Qualified(r);
    }

    /// <summary>Splits a stored name at the last ':' after the last '/': REPOSITORY and TAG as podman prints them.</summary>
    public static (string Repository, string Tag) Split(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        int at = name.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            return (name[..at], "<none>");
        }

        int colon = name.LastIndexOf(':');
        int slash = name.LastIndexOf('/');
        return colon > slash ? (name[..colon], name[(colon + 1)..]) : (name, "<none>");
    }

    /// <summary>An image ID as the user may type it, <c>sha256:</c> prefix or not: the hex part.</summary>
    public static string WithoutSha256Prefix(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.StartsWith(Oci.Digest.Sha256 + ":", StringComparison.Ordinal) ? text[(Oci.Digest.Sha256.Length + 1)..] : text;
    }

    /// <summary>
    /// podman's LookupImage: an exact name or ID (or unique ID prefix); then the short name as
    /// <c>localhost/</c>, under each search registry and on docker.io; last, any image whose
    /// repository ends with the given path and whose tag matches.
    /// </summary>
    public static ImageRecord? Lookup(IReadOnlyList<ImageRecord> images, string input, IReadOnlyList<string> searchRegistries)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(searchRegistries);
        string text = StripTransport(input);
        string id = WithoutSha256Prefix(text);
        if (id.Length >= 1 && id.All(char.IsAsciiHexDigitLower))
        {
            if (images.FirstOrDefault(i => i.Id == id) is { } exactId)
            {
                return exactId;
            }

            var prefixed = images.Where(i => i.Id.StartsWith(id, StringComparison.Ordinal)).ToList();
            if (prefixed.Count == 1 && !HasName(images, text))
            {
                return prefixed[0];
            }

            if (prefixed.Count > 1 && !HasName(images, text))
            {
                throw new WharfException($"{text}: image not known: more than one image has an ID beginning with {id}");
            }
        }

        if (!Reference.TryParse(text, out var reference, out _))
        {
            return null;
        }

        var candidates = new List<string>();
        if (reference.Domain is not null)
        {
            candidates.Add(Qualified(reference));
        }
        else
        {
            candidates.Add(Qualified(reference with { Domain = "localhost" }));
            candidates.AddRange(searchRegistries.Select(r => Qualified(reference with { Domain = r })));
            candidates.Add(Qualified(reference.Normalize()));
        }

        foreach (string candidate in candidates)
        {
            if (FindByName(images, candidate) is { } found)
            {
                return found;
            }
        }

        // Last resort: repository ends with the given path, same tag (latest by default).
        string tag = reference.Tag ?? "latest";
        string suffix = "/" + reference.Name;
        foreach (var image in images)
        {
            foreach (string name in image.Names)
            {
                var (repo, t) = Split(name);
                if (repo.EndsWith(suffix, StringComparison.Ordinal) && (reference.Digest is { } d ? image.HasDigest(d.ToString()) : t == tag))
                {
                    return image;
                }
            }
        }

        return null;
    }

    private static bool HasName(IReadOnlyList<ImageRecord> images, string text) =>
        Reference.TryParse(text, out var r, out _) && images.Any(i => i.Names.Contains(Qualified(r with { Domain = r.Domain ?? "localhost" })));

    private static ImageRecord? FindByName(IReadOnlyList<ImageRecord> images, string name)
    {
        int at = name.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            string repo = name[..at];
            string digest = name[(at + 1)..];
            int colon = repo.LastIndexOf(':');
            if (colon > repo.LastIndexOf('/'))
            {
                repo = repo[..colon];
            }

            // The manifest's own digest, or an index's the image was pulled or published through.
            return images.FirstOrDefault(i => i.HasDigest(digest) && i.Names.Any(n => Split(n).Repository == repo))
                ?? images.FirstOrDefault(i => i.HasDigest(digest));
        }

        return images.FirstOrDefault(i => i.Names.Contains(name));
    }
}
