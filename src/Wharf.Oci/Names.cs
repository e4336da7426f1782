using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Wharf.Oci;

/// <summary>
/// The grammars of the distribution spec ("Pulling manifests": name and tag) and of docker's
/// reference package, compiled once.
/// </summary>
public static partial class Grammar
{
    /// <summary>Docker caps a full name at 255 characters; the spec advises clients to do so too.</summary>
    public const int MaxNameLength = 255;

    // The spec's patterns are anchored at both ends. .NET's '$' also matches before a final
    // "\n", which would let "alpine\n" through as a name, tag or host, so every pattern here
    // ends with '\z' (the very end of the input) instead.
    //
    // path-component := [a-z0-9]+ (separator [a-z0-9]+)* ; separator := [_.] | __ | [-]+
    [GeneratedRegex(@"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*\z", RegexOptions.CultureInvariant)]
    internal static partial Regex RepositoryPath();

    [GeneratedRegex(@"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}\z", RegexOptions.CultureInvariant)]
    internal static partial Regex TagPattern();

    // host := domain-name | IPv4 | [IPv6] ; domain := host [':' port]
    [GeneratedRegex(@"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?\z", RegexOptions.CultureInvariant)]
    internal static partial Regex DomainPattern();
}

/// <summary>A repository name inside a registry (no domain), e.g. <c>library/alpine</c>.</summary>
public readonly record struct RepositoryName
{
    private RepositoryName(string value) => Value = value;

    public string Value { get; }

    /// <summary>The first path component: in Harbor's model, the project.</summary>
    public string Project
    {
        get
        {
            int slash = Value.IndexOf('/', StringComparison.Ordinal);
            return slash < 0 ? Value : Value[..slash];
        }
    }

    public override string ToString() => Value;

    public static RepositoryName Parse(string value) =>
        TryParse(value, out var name, out var error) ? name : throw new FormatException(error);

    public static bool TryParse([NotNullWhen(true)] string? value, out RepositoryName name, [NotNullWhen(false)] out string? error)
    {
        name = default;
        if (string.IsNullOrEmpty(value))
        {
            error = "repository name is empty";
            return false;
        }

        if (value.Length > Grammar.MaxNameLength)
        {
            error = $"repository name is longer than {Grammar.MaxNameLength} characters";
            return false;
        }

        if (!Grammar.RepositoryPath().IsMatch(value))
        {
            error = $"repository name \"{value}\" must be lower-case path components of [a-z0-9] joined by '.', '_', '__' or '-', separated by '/'";
            return false;
        }

        name = new RepositoryName(value);
        error = null;
        return true;
    }
}

/// <summary>A tag: <c>[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}</c>.</summary>
public readonly record struct Tag
{
    private Tag(string value) => Value = value;

    public string Value { get; }

    public override string ToString() => Value;

    public static bool IsValid([NotNullWhen(true)] string? value) => value is not null && Grammar.TagPattern().IsMatch(value);

    public static Tag Parse(string value) =>
        TryParse(value, out var tag) ? tag : throw new FormatException($"tag \"{value}\" is invalid");

    public static bool TryParse([NotNullWhen(true)] string? value, out Tag tag)
    {
        tag = IsValid(value) ? new Tag(value) : default;
        return tag.Value is not null;
    }
}
