using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Wharf.Oci;

/// <summary>
/// A content digest, <c>algorithm:encoded</c>, validated once at the boundary
/// (OCI image-spec descriptor.md, "Digests"). Only sha256 and sha512 are accepted for
/// content: the grammar admits other algorithms, but a registry must not store what it
/// cannot verify.
/// In JSON a digest is its text, <c>"sha256:…"</c> (<see cref="DigestJsonConverter"/>).
/// </summary>
[JsonConverter(typeof(DigestJsonConverter))]
public readonly record struct Digest
{
    public const string Sha256 = "sha256";
    public const string Sha512 = "sha512";

    private Digest(string algorithm, string encoded)
    {
        Algorithm = algorithm;
        Encoded = encoded;
    }

    public string Algorithm { get; }

    public string Encoded { get; }

    public bool IsDefault => Algorithm is null;

    public override string ToString() => Algorithm + ":" + Encoded;

    public static Digest Parse(string value) =>
        TryParse(value, out var digest, out var error) ? digest : throw new FormatException(error);

    public static bool TryParse([NotNullWhen(true)] string? value, out Digest digest) =>
        TryParse(value, out digest, out _);

    /// <summary>
    /// Grammar: <c>algorithm ":" encoded</c>, algorithm = <c>[a-z0-9]+([+._-][a-z0-9]+)*</c>,
    /// encoded = <c>[a-zA-Z0-9=_-]+</c>; sha256 is 64 and sha512 128 lower-case hex digits.
    /// </summary>
    public static bool TryParse([NotNullWhen(true)] string? value, out Digest digest, [NotNullWhen(false)] out string? error)
    {
        digest = default;
        if (string.IsNullOrEmpty(value))
        {
            error = "digest is empty";
            return false;
        }

        int colon = value.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == value.Length - 1)
        {
            error = $"digest \"{Truncate(value)}\" is not of the form algorithm:hex";
            return false;
        }

        string algorithm = value[..colon];
        string encoded = value[(colon + 1)..];
        if (!IsAlgorithmComponent(algorithm))
        {
            error = $"digest algorithm \"{Truncate(algorithm)}\" is malformed";
            return false;
        }

        foreach (char c in encoded)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '=' or '_' or '-'))
            {
                error = $"digest \"{Truncate(value)}\" has an invalid character in its encoded part";
                return false;
            }
        }

        int expected = algorithm switch
        {
            Sha256 => 64,
            Sha512 => 128,
            _ => -1,
        };
        if (expected < 0)
        {
            error = $"digest algorithm \"{Truncate(algorithm)}\" is not supported (sha256, sha512)";
            return false;
        }

        if (encoded.Length != expected || !IsLowerHex(encoded))
        {
            error = $"{algorithm} digest must be {expected} lower-case hex digits";
            return false;
        }

        digest = new Digest(algorithm, encoded);
        error = null;
        return true;
    }

    public static Digest FromSha256Hash(ReadOnlySpan<byte> hash) => new(Sha256, Convert.ToHexStringLower(hash));

    public static Digest Compute(ReadOnlySpan<byte> content) => FromSha256Hash(SHA256.HashData(content));

    public static Digest Compute(Stream content)
    {
        ArgumentNullException.ThrowIfNull(content);
        return FromSha256Hash(SHA256.HashData(content));
    }

    public static async Task<Digest> ComputeAsync(Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        return FromSha256Hash(await SHA256.HashDataAsync(content, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>An incremental hasher for this digest's algorithm.</summary>
    public IncrementalHash CreateHasher() => CreateHasher(Algorithm);

    public static IncrementalHash CreateHasher(string algorithm) => algorithm switch
    {
        Sha256 => IncrementalHash.CreateHash(HashAlgorithmName.SHA256),
        Sha512 => IncrementalHash.CreateHash(HashAlgorithmName.SHA512),
        _ => throw new NotSupportedException($"digest algorithm {algorithm} is not supported"),
    };

    /// <summary>Finishes <paramref name="hasher"/> into a digest of <paramref name="algorithm"/>.</summary>
    public static Digest FromHasher(string algorithm, IncrementalHash hasher)
    {
        ArgumentNullException.ThrowIfNull(hasher);

        // A digest is only ever built valid: the label must name the hasher's algorithm, else
        // the result would be a sha512 hash labelled sha256 (or an unsupported algorithm) that
        // no parser would accept and no one could verify.
        var expected = algorithm switch
        {
            Sha256 => HashAlgorithmName.SHA256,
            Sha512 => HashAlgorithmName.SHA512,
            _ => throw new ArgumentException($"digest algorithm {algorithm} is not supported", nameof(algorithm)),
        };
        if (hasher.AlgorithmName != expected)
        {
            throw new ArgumentException($"hasher computes {hasher.AlgorithmName.Name}, not {algorithm}", nameof(hasher));
        }

        return new Digest(algorithm, Convert.ToHexStringLower(hasher.GetHashAndReset()));
    }

    /// <summary>Checks that <paramref name="content"/> hashes to this digest, with this digest's algorithm.</summary>
    public bool Matches(ReadOnlySpan<byte> content)
    {
        using var hasher = CreateHasher();
        hasher.AppendData(content);
        return FromHasher(Algorithm, hasher) == this;
    }

    private static bool IsAlgorithmComponent(string s)
    {
        // [a-z0-9]+([+._-][a-z0-9]+)*
        bool needAlnum = true;
        foreach (char c in s)
        {
            if (char.IsAsciiDigit(c) || char.IsAsciiLetterLower(c))
            {
                needAlnum = false;
            }
            else if (c is '+' or '.' or '_' or '-')
            {
                if (needAlnum)
                {
                    return false;
                }

                needAlnum = true;
            }
            else
            {
                return false;
            }
        }

        return !needAlnum;
    }

    private static bool IsLowerHex(string s)
    {
        foreach (char c in s)
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static string Truncate(string s) => s.Length <= 80 ? s : s[..80] + "…";
}

/// <summary>
/// A digest as OCI JSON writes it, a string <c>"algorithm:encoded"</c>. Reading validates it as
/// <see cref="Digest.Parse"/> does, so a descriptor never holds a digest nobody could verify; the
/// failure is a <see cref="JsonException"/> naming what is wrong with the text.
/// </summary>
public sealed class DigestJsonConverter : JsonConverter<Digest>
{
    public override Digest Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonException($"a digest must be a string, not {reader.TokenType}");
        }

        return Digest.TryParse(reader.GetString(), out var digest, out var error) ? digest : throw new JsonException(error);
    }

    public override void Write(Utf8JsonWriter writer, Digest value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (value.IsDefault)
        {
            throw new JsonException("cannot write an empty digest");
        }

        writer.WriteStringValue(value.ToString());
    }
}
