using Wharf.Oci;
using Wharf.Registry.Data;
using Wharf.Registry.Retention;

namespace Wharf.Registry.Metadata;

/// <summary>What tag retention reads: a repository's artifacts with their tags, push and pull times, and its referrers.</summary>
public sealed partial class SqliteMetadataStore : IRetentionCandidateStore
{
    public async Task<(IReadOnlyList<RetentionCandidate> Candidates, IReadOnlyList<RetentionReferrer> Referrers)> ListRetentionCandidatesAsync(
        RepositoryName repository, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        var candidates = new List<RetentionCandidate>();
        var referrers = new List<RetentionReferrer>();
        long? repoId = await RepositoryIdAsync(c, cancellationToken, repository);
        if (repoId is null)
        {
            return (candidates, referrers);
        }

        using var cmd = c.CreateCommand();
        // Top-level manifests (no index of the repository lists them); a subject counts only when that
        // manifest is in the repository (a referrer of something absent is weighed like any artifact).
        // Tag names cannot hold a comma (the tag grammar), so a comma-joined list is unambiguous.
        cmd.CommandText = $"""
            SELECT m.digest,
                MAX(m.created_at, COALESCE((SELECT MAX(t.updated_at) FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest), 0)),
                (SELECT p.last_pull FROM artifact_pulls p WHERE p.repository_id = m.repository_id AND p.digest = m.digest),
                CASE WHEN m.subject IS NOT NULL AND EXISTS(SELECT 1 FROM manifests s WHERE s.repository_id = m.repository_id AND s.digest = m.subject)
                     THEN m.subject END,
                (SELECT group_concat(t.name, ',') FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)
            FROM manifests m WHERE m.repository_id = $r AND {TopLevel}
            """;
        cmd.AddParameter("$r", repoId.Value);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            var digest = Digest.Parse(r.GetString(0));
            IReadOnlyList<string> tags = r.IsDBNull(4) ? [] : [.. r.GetString(4).Split(',').Order(StringComparer.Ordinal)];
            if (!r.IsDBNull(3))
            {
                referrers.Add(new RetentionReferrer(digest, Digest.Parse(r.GetString(3)), tags));
                continue;
            }

            candidates.Add(new RetentionCandidate(
                digest, DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)),
                r.IsDBNull(2) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), tags));
        }

        return (candidates, referrers);
    }
}
