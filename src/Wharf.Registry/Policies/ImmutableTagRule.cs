using Wharf.Registry.Replication;

namespace Wharf.Registry.Policies;

/// <summary>
/// One of a project's immutable tag rules, as Harbor keeps it: tags of the repositories that
/// <see cref="RepositoryPattern"/> selects (the path after the project name, <c>repoMatches</c> or
/// <c>repoExcludes</c>) whose names <see cref="TagPattern"/> selects (<c>matches</c> or <c>excludes</c>)
/// can be pushed once and then neither moved to another digest nor deleted. Patterns are Harbor's
/// doublestar ones (<see cref="DoublestarPattern"/>), validated before a rule is stored.
/// </summary>
public sealed record ImmutableTagRule(
    long Id, string Project, long ProjectId, int Priority, bool Disabled,
    string TagPattern, bool TagExcludes, string RepositoryPattern, bool RepositoryExcludes)
{
    /// <summary>Whether the rule makes <paramref name="tag"/> of <paramref name="repository"/> (the full name, project first) immutable.</summary>
    public bool Protects(string repository, string tag)
    {
        if (Disabled)
        {
            return false;
        }

        // Harbor matches the repository selector against the path inside the project.
        int slash = repository.IndexOf('/', StringComparison.Ordinal);
        string path = slash < 0 ? repository : repository[(slash + 1)..];
        return DoublestarPattern.IsMatch(RepositoryPattern, path) != RepositoryExcludes
            && DoublestarPattern.IsMatch(TagPattern, tag) != TagExcludes;
    }

    /// <summary>The first enabled rule that protects the tag, if any.</summary>
    public static ImmutableTagRule? FirstProtecting(IEnumerable<ImmutableTagRule> rules, string repository, string tag) =>
        rules.FirstOrDefault(r => r.Protects(repository, tag));
}

/// <summary>
/// A write would move or remove an immutable tag. Thrown by the metadata store inside the write's
/// transaction, so every writer (registry API, management API, portal, replication, proxy cache)
/// meets the same check; each front end turns it into its own answer.
/// </summary>
public sealed class ImmutableTagException(string repository, string tag, long ruleId, bool delete)
    : Exception(delete
        ? $"the tag {tag} of {repository} is immutable (rule {ruleId}) and cannot be deleted"
        : $"the tag {tag} of {repository} is immutable (rule {ruleId}) and cannot be overwritten with a different manifest")
{
    public string Repository { get; } = repository;

    public string Tag { get; } = tag;

    public long RuleId { get; } = ruleId;
}

/// <summary>Where a project's immutable tag rules are kept (next to the tags they protect).</summary>
public interface IImmutableTagRuleStore
{
    Task<IReadOnlyList<ImmutableTagRule>> ListImmutableTagRulesAsync(long projectId, CancellationToken cancellationToken);

    /// <summary>The rule with its new id.</summary>
    Task<ImmutableTagRule> AddImmutableTagRuleAsync(ImmutableTagRule rule, CancellationToken cancellationToken);

    /// <summary>False when the project has no rule with that id.</summary>
    Task<bool> UpdateImmutableTagRuleAsync(ImmutableTagRule rule, CancellationToken cancellationToken);

    Task<bool> DeleteImmutableTagRuleAsync(long projectId, long ruleId, CancellationToken cancellationToken);

    /// <summary>A deleted project's rules go with it, so a project created again under its name starts without any.</summary>
    Task DeleteProjectImmutableTagRulesAsync(long projectId, CancellationToken cancellationToken);
}
