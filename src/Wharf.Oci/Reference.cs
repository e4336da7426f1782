using System.Diagnostics.CodeAnalysis;

namespace Wharf.Oci;

/// <summary>
/// An image reference in docker's grammar: <c>[domain/]path[:tag][@digest]</c>.
/// <see cref="ParseNormalized"/> applies docker's normalisation: a first component without
/// '.', ':' or "localhost" is not a domain, so <c>alpine</c> is <c>docker.io/library/alpine</c>.
/// </summary>
public sealed record Reference
{
    public const string DockerHub = "docker.io";
    public const string DockerHubLibrary = "library";

    public Reference(string? domain, string path, string? tag, Digest? digest)
    {
        Domain = domain;
        Path = path;
        Tag = tag;
        Digest = digest;
    }

    /// <summary><c>host[:port]</c>, or null when the reference named none.</summary>
    public string? Domain { get; init; }

    /// <summary>The repository path inside the registry.</summary>
    public string Path { get; init; }

    public string? Tag { get; init; }

    public Digest? Digest { get; init; }

    /// <summary><c>domain/path</c>, or just the path when there is no domain.</summary>
    public string Name => Domain is null ? Path : Domain + "/" + Path;

    public override string ToString()
    {
        string s = Name;
        if (Tag is not null)
        {
            s += ":" + Tag;
        }

        if (Digest is { } d)
        {
            s += "@" + d;
        }

        return s;
    }

    public static Reference Parse(string value) =>
        TryParse(value, out var r, out var error) ? r : throw new FormatException(error);

    /// <summary>Parses without normalising: the domain is set only when the first component looks like one.</summary>
    public static bool TryParse([NotNullWhen(true)] string? value, [NotNullWhen(true)] out Reference? reference, [NotNullWhen(false)] out string? error)
    {
        reference = null;
        if (string.IsNullOrEmpty(value))
        {
            error = "reference is empty";
            return false;
        }

        string rest = value;
        Digest? digest = null;
        int at = rest.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            if (!Oci.Digest.TryParse(rest[(at + 1)..], out var d, out var derr))
            {
                error = $"invalid reference \"{value}\": {derr}";
                return false;
            }

            digest = d;
            rest = rest[..at];
        }

        string? tag = null;
        int lastColon = rest.LastIndexOf(':');
        int lastSlash = rest.LastIndexOf('/');
        if (lastColon > lastSlash)
        {
            tag = rest[(lastColon + 1)..];
            rest = rest[..lastColon];
            if (!Oci.Tag.IsValid(tag))
            {
                error = $"invalid reference \"{value}\": tag \"{tag}\" is invalid";
                return false;
            }
        }

        string? domain = null;
        string path = rest;
        int firstSlash = rest.IndexOf('/', StringComparison.Ordinal);
        if (firstSlash > 0)
        {
            string first = rest[..firstSlash];
            if (LooksLikeDomain(first))
            {
                if (!Grammar.DomainPattern().IsMatch(first))
                {
                    error = $"invalid reference \"{value}\": registry \"{first}\" is not a valid host[:port]";
                    return false;
                }

                domain = first;
                path = rest[(firstSlash + 1)..];
            }
        }

        if (path.Length == 0)
        {
            error = $"invalid reference \"{value}\": repository name is empty";
            return false;
        }

        if (!Grammar.RepositoryPath().IsMatch(path))
        {
            error = path.Any(char.IsAsciiLetterUpper)
                ? $"invalid reference \"{value}\": repository name must be lowercase"
                : $"invalid reference \"{value}\": invalid reference format";
            return false;
        }

        if ((domain is null ? path.Length : domain.Length + 1 + path.Length) > Grammar.MaxNameLength)
        {
            error = $"invalid reference \"{value}\": repository name must not be more than {Grammar.MaxNameLength} characters";
            return false;
        }

        reference = new Reference(domain, path, tag, digest);
        error = null;
        return true;
    }

    /// <summary>Parses and applies docker's normalisation (docker.io and library/).</summary>
    public static bool TryParseNormalized([NotNullWhen(true)] string? value, [NotNullWhen(true)] out Reference? reference, [NotNullWhen(false)] out string? error)
    {
        // Docker's ParseNormalizedNamed refuses a bare 64-hex string: it would be read as an image ID.
        if (value is { Length: 64 } && value.All(char.IsAsciiHexDigitLower))
        {
            reference = null;
            error = $"invalid repository name \"{value}\": cannot specify 64-byte hexadecimal strings";
            return false;
        }

        if (!TryParse(value, out reference, out error))
        {
            return false;
        }

        reference = reference.Normalize();

        // Docker checks the 255-character limit on the normalised name, docker.io/library/ included.
        if (reference.Name.Length > Grammar.MaxNameLength)
        {
            error = $"invalid reference \"{value}\": repository name must not be more than {Grammar.MaxNameLength} characters";
            reference = null;
            return false;
        }

        return true;
    }

    public static Reference ParseNormalized(string value) =>
        TryParseNormalized(value, out var r, out var error) ? r : throw new FormatException(error);

    /// <summary>Docker normalisation: no domain means docker.io; docker.io without a namespace means library/.</summary>
    public Reference Normalize()
    {
        string domain = Domain ?? DockerHub;
        if (domain is "index.docker.io" or "registry-1.docker.io")
        {
            domain = DockerHub;
        }

        string path = Path;
        if (domain == DockerHub && !path.Contains('/', StringComparison.Ordinal))
        {
            path = DockerHubLibrary + "/" + path;
        }

        return this with { Domain = domain, Path = path };
    }

    /// <summary>
    /// A first path component is a registry host when it has a '.' or ':', is "localhost",
    /// or has upper-case letters (which a repository path cannot) — docker's splitDockerDomain.
    /// </summary>
    public static bool LooksLikeDomain(string component) =>
        component.Contains('.', StringComparison.Ordinal)
        || component.Contains(':', StringComparison.Ordinal)
        || component == "localhost"
        || component.Any(char.IsAsciiLetterUpper)
        || component.StartsWith('[');
}
