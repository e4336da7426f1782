using Wharf.Registry.Management;
using Wharf.Registry.Replication;

namespace Wharf.Registry.Policies;

/// <summary>The part of a Harbor rule selector (<c>{"kind","decoration","pattern"}</c>) that immutable tag rules and retention rules share.</summary>
public interface IRuleSelector
{
    string? Kind { get; }

    string? Decoration { get; }

    string? Pattern { get; }
}

/// <summary>
/// Checks one selector of an immutable tag rule or a retention rule, the same way for both: kind
/// <c>doublestar</c> (or none), a decoration that includes or excludes (<c>matches</c>/<c>excludes</c>
/// for tags, <c>repoMatches</c>/<c>repoExcludes</c> for repositories), a pattern that compiles.
/// Errors are 400s that name <c>field</c>.
/// </summary>
public static class RuleSelectors
{
    public static (string Pattern, bool Excludes) ParseTag(string field, IRuleSelector? selector) =>
        Parse(field, selector, "matches", "excludes");

    public static (string Pattern, bool Excludes) ParseRepository(string field, IRuleSelector? selector) =>
        Parse(field, selector, "repoMatches", "repoExcludes");

    private static (string Pattern, bool Excludes) Parse(string field, IRuleSelector? selector, string matches, string excludes)
    {
        if (selector is null)
        {
            throw ApiException.BadRequest($"{field}: a selector is missing");
        }

        if (selector.Kind is not (null or "doublestar"))
        {
            throw ApiException.BadRequest($"{field}: kind must be \"doublestar\", not \"{selector.Kind}\"");
        }

        bool exclude = selector.Decoration == excludes;
        if (!exclude && selector.Decoration != matches)
        {
            throw ApiException.BadRequest($"{field}: decoration must be \"{matches}\" or \"{excludes}\", not \"{selector.Decoration}\"");
        }

        if (string.IsNullOrWhiteSpace(selector.Pattern))
        {
            throw ApiException.BadRequest($"{field}: pattern is empty");
        }

        if (!DoublestarPattern.TryCompile(selector.Pattern, out _, out string? error))
        {
            throw ApiException.BadRequest($"{field}: {error}");
        }

        return (selector.Pattern, exclude);
    }
}
