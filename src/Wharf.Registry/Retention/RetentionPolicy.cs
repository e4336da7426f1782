using System.Globalization;
using Wharf.Oci;
using Wharf.Registry.Replication;

namespace Wharf.Registry.Retention;

/// <summary>Harbor's rule templates: what a rule keeps of the artifacts its selectors chose.</summary>
public static class RetentionTemplates
{
    public const string LatestPushedK = "latestPushedK";
    public const string LatestPulledN = "latestPulledN";
    public const string NDaysSinceLastPush = "nDaysSinceLastPush";
    public const string NDaysSinceLastPull = "nDaysSinceLastPull";
    public const string Always = "always";

    /// <summary>Template → its parameter's unit, as Harbor's <c>/retentions/metadatas</c> lists them (null: no parameter).</summary>
    public static readonly IReadOnlyDictionary<string, (string Display, string? Unit)> All = new Dictionary<string, (string, string?)>(StringComparer.Ordinal)
    {
        [LatestPushedK] = ("the most recently pushed # artifacts", "count"),
        [LatestPulledN] = ("the most recently pulled # artifacts", "count"),
        [NDaysSinceLastPush] = ("pushed within the last # days", "days"),
        [NDaysSinceLastPull] = ("pulled within the last # days", "days"),
        [Always] = ("always", null),
    };
}

/// <summary>
/// One retention rule (Harbor's RetentionRule with action <c>retain</c>): in the repositories its
/// repository selector picks (the path inside the project), among the artifacts its tag selector picks
/// (any tag matches, or for <c>excludes</c> no tag matches; untagged artifacts only when
/// <see cref="Untagged"/>), keep what <see cref="Template"/> with <see cref="Parameter"/> says.
/// </summary>
public sealed record RetentionRule(
    int Id, int Priority, bool Disabled, string Template, int? Parameter,
    string TagPattern, bool TagExcludes, bool Untagged, string RepositoryPattern, bool RepositoryExcludes)
{
    public bool AppliesTo(string repository)
    {
        if (Disabled)
        {
            return false;
        }

        int slash = repository.IndexOf('/', StringComparison.Ordinal);
        string path = slash < 0 ? repository : repository[(slash + 1)..];
        return DoublestarPattern.IsMatch(RepositoryPattern, path) != RepositoryExcludes;
    }

    public bool Selects(RetentionCandidate candidate)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        if (candidate.Tags.Count == 0)
        {
            return Untagged;
        }

        bool any = candidate.Tags.Any(t => DoublestarPattern.IsMatch(TagPattern, t));
        return TagExcludes ? !any : any;
    }

    /// <summary>What the rule keeps of the repository's candidates, by digest.</summary>
    public IEnumerable<RetentionCandidate> Keep(IEnumerable<RetentionCandidate> candidates, DateTimeOffset now)
    {
        var selected = candidates.Where(Selects);
        int n = Parameter ?? 0;
        return Template switch
        {
            RetentionTemplates.LatestPushedK => selected.OrderByDescending(c => c.PushTime).ThenBy(c => c.Digest.ToString(), StringComparer.Ordinal).Take(n),
            // As Harbor: never pulled sorts last but still fills the N when fewer were pulled.
            RetentionTemplates.LatestPulledN => selected.OrderByDescending(c => c.PullTime ?? DateTimeOffset.MinValue)
                .ThenByDescending(c => c.PushTime).ThenBy(c => c.Digest.ToString(), StringComparer.Ordinal).Take(n),
            RetentionTemplates.NDaysSinceLastPush => selected.Where(c => c.PushTime >= now - TimeSpan.FromDays(n)),
            RetentionTemplates.NDaysSinceLastPull => selected.Where(c => c.PullTime is { } pulled && pulled >= now - TimeSpan.FromDays(n)),
            RetentionTemplates.Always => selected,
            _ => [],
        };
    }

    /// <summary>For the task log: <c>rule 1 (latestPushedK 5, tags matching v*, untagged included)</c>.</summary>
    public string Describe(int index) => string.Create(CultureInfo.InvariantCulture,
        $"rule {index + 1} ({Template}{(Parameter is { } p ? " " + p : "")}, tags {(TagExcludes ? "excluding" : "matching")} {TagPattern}, untagged {(Untagged ? "included" : "excluded")})");
}

/// <summary>A project's retention policy (Harbor's RetentionPolicy; algorithm <c>or</c>: an artifact any rule keeps is kept).</summary>
public sealed record RetentionPolicy(
    long Id, long ProjectId, string Algorithm, IReadOnlyList<RetentionRule> Rules, string? Cron, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>
/// A top-level artifact of a repository as retention weighs it: its tags, when it was last pushed (the
/// manifest or any of its tags, whichever is later) and last pulled. Index children are not
/// candidates (they go or stay with their index); referrers are not either (they follow their subject).
/// </summary>
public sealed record RetentionCandidate(Digest Digest, DateTimeOffset PushTime, DateTimeOffset? PullTime, IReadOnlyList<string> Tags);

/// <summary>A manifest whose <c>subject</c> is another manifest of the same repository (a signature, an SBOM).</summary>
public sealed record RetentionReferrer(Digest Digest, Digest Subject, IReadOnlyList<string> Tags);

/// <summary>What retention reads from the metadata store; the SQL is in <c>Metadata/SqliteMetadataStore.Retention.cs</c>.</summary>
public interface IRetentionCandidateStore
{
    /// <summary>The repository's top-level artifacts that are not referrers of another artifact in it, and its referrers.</summary>
    Task<(IReadOnlyList<RetentionCandidate> Candidates, IReadOnlyList<RetentionReferrer> Referrers)> ListRetentionCandidatesAsync(
        RepositoryName repository, CancellationToken cancellationToken);
}
