using System.Diagnostics.CodeAnalysis;

namespace Wharf.Oci;

/// <summary>
/// The <c>&lt;reference&gt;</c> of <c>/v2/&lt;name&gt;/manifests/&lt;reference&gt;</c>: a tag or a
/// digest (distribution spec, "Pulling manifests"). A tag cannot hold ':' and a digest always does,
/// so the colon decides which one the text means; that is decided here once, at the edge, and
/// past it code asks <see cref="IsDigest"/> instead of looking at the text again.
/// </summary>
public readonly record struct ManifestReference
{
    private readonly Tag _tag;
    private readonly Digest _digest;

    private ManifestReference(Tag tag, Digest digest)
    {
        _tag = tag;
        _digest = digest;
    }

    public bool IsDigest => !_digest.IsDefault;

    /// <summary>The digest; only for a reference that <see cref="IsDigest"/>.</summary>
    public Digest Digest => IsDigest ? _digest : throw new InvalidOperationException($"{this} is a tag, not a digest");

    /// <summary>The tag; only for a reference that is not a digest.</summary>
    public Tag Tag => IsDigest || _tag.Value is null ? throw new InvalidOperationException($"{this} is not a tag") : _tag;

    /// <summary>The canonical text: the tag, or the digest as <c>algorithm:encoded</c>.</summary>
    public override string ToString() => IsDigest ? _digest.ToString() : _tag.Value ?? "";

    public static ManifestReference FromDigest(Digest digest) =>
        digest.IsDefault ? throw new ArgumentException("empty digest", nameof(digest)) : new(default, digest);

    public static ManifestReference FromTag(Tag tag) =>
        tag.Value is null ? throw new ArgumentException("empty tag", nameof(tag)) : new(tag, default);

    public static implicit operator ManifestReference(Digest digest) => FromDigest(digest);

    public static implicit operator ManifestReference(Tag tag) => FromTag(tag);

    /// <summary>Whether <paramref name="value"/> is meant as a digest (it has a colon, which no tag can have).</summary>
    public static bool IsDigestShaped(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value.Contains(':', StringComparison.Ordinal);
    }

    public static ManifestReference Parse(string value) =>
        TryParse(value, out var reference, out var error) ? reference : throw new FormatException(error);

    /// <summary>
    /// A digest-shaped text must be a valid digest (the error is <see cref="Digest.TryParse(string?, out Digest, out string?)"/>'s),
    /// anything else a valid tag.
    /// </summary>
    public static bool TryParse([NotNullWhen(true)] string? value, out ManifestReference reference, [NotNullWhen(false)] out string? error)
    {
        reference = default;
        if (value is not null && IsDigestShaped(value))
        {
            if (!Digest.TryParse(value, out var digest, out error))
            {
                return false;
            }

            reference = new(default, digest);
            return true;
        }

        if (!Tag.TryParse(value, out var tag))
        {
            error = $"tag \"{value}\" must match [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}";
            return false;
        }

        reference = new(tag, default);
        error = null;
        return true;
    }
}
