using System.Data.Common;
using Wharf.Registry.Data;
using Wharf.Oci;
using Wharf.Registry.Policies;

namespace Wharf.Registry.Metadata;

/// <summary>
/// Immutable tag rules live in the registry database so that the tag writes below check them inside
/// their own transaction: a rule added concurrently is either seen by a push or was not yet committed.
/// </summary>
public sealed partial class SqliteMetadataStore : IImmutableTagRuleStore
{
    private const string RuleColumns = "id, project, project_id, priority, disabled, tag_pattern, tag_excludes, repo_pattern, repo_excludes";

    public async Task<IReadOnlyList<ImmutableTagRule>> ListImmutableTagRulesAsync(long projectId, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT {RuleColumns} FROM immutable_tag_rules WHERE project_id = $p ORDER BY priority, id";
        cmd.AddParameter("$p", projectId);
        return await ReadRulesAsync(cmd, cancellationToken);
    }

    public async Task<ImmutableTagRule> AddImmutableTagRuleAsync(ImmutableTagRule rule, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rule);
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            INSERT INTO immutable_tag_rules(project, project_id, priority, disabled, tag_pattern, tag_excludes, repo_pattern, repo_excludes, created_at)
            VALUES($pn, $p, $prio, $dis, $tp, $te, $rp, $re, $t) RETURNING id
            """;
        AddRuleParameters(cmd, rule);
        cmd.AddParameter("$t", Now);
        long id = (long)(await cmd.ExecuteScalarAsync(cancellationToken))!;
        return rule with { Id = id };
    }

    public async Task<bool> UpdateImmutableTagRuleAsync(ImmutableTagRule rule, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rule);
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            UPDATE immutable_tag_rules SET project = $pn, priority = $prio, disabled = $dis, tag_pattern = $tp, tag_excludes = $te,
            repo_pattern = $rp, repo_excludes = $re WHERE id = $id AND project_id = $p
            """;
        AddRuleParameters(cmd, rule);
        cmd.AddParameter("$id", rule.Id);
        return (await cmd.ExecuteNonQueryAsync(cancellationToken)) > 0;
    }

    public async Task<bool> DeleteImmutableTagRuleAsync(long projectId, long ruleId, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        return await ExecuteAsync(c, cancellationToken, "DELETE FROM immutable_tag_rules WHERE id = $id AND project_id = $p", ("$id", ruleId), ("$p", projectId)) > 0;
    }

    public async Task DeleteProjectImmutableTagRulesAsync(long projectId, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await ExecuteAsync(c, cancellationToken, "DELETE FROM immutable_tag_rules WHERE project_id = $p", ("$p", projectId));
        return;
    }

    // ---- the checks the tag writes make, inside their transaction ------------------------------

    /// <summary>The enabled rules of the repository's project (usually none: one indexed lookup).</summary>
    private static async Task<List<ImmutableTagRule>> ProjectRulesAsync(DbConnection c, CancellationToken cancellationToken, RepositoryName repository)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT {RuleColumns} FROM immutable_tag_rules WHERE project = $pn AND disabled = 0 ORDER BY priority, id";
        cmd.AddParameter("$pn", repository.Project);
        return await ReadRulesAsync(cmd, cancellationToken);
    }

    /// <summary>Refuses moving an existing immutable tag to another digest; pushing the same digest again is allowed.</summary>
    private static async Task CheckTagMovesAsync(DbConnection c, CancellationToken cancellationToken, RepositoryName repository, long repoId, IReadOnlyList<string> tags, string digest)
    {
        if (tags.Count == 0)
        {
            return;
        }

        var rules = await ProjectRulesAsync(c, cancellationToken, repository);
        if (rules.Count == 0)
        {
            return;
        }

        foreach (string tag in tags)
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT digest FROM tags WHERE repository_id = $r AND name = $n";
            cmd.AddParameter("$r", repoId);
            cmd.AddParameter("$n", tag);
            if ((await cmd.ExecuteScalarAsync(cancellationToken)) is string current && current != digest
                && ImmutableTagRule.FirstProtecting(rules, repository.Value, tag) is { } rule)
            {
                throw new ImmutableTagException(repository.Value, tag, rule.Id, delete: false);
            }
        }
    }

    /// <summary>Refuses removing tags of which one is immutable: the tag itself, or the tags of a manifest (or repository) being deleted.</summary>
    private static async Task CheckTagRemovalsAsync(DbConnection c, CancellationToken cancellationToken, RepositoryName repository, long repoId, string? tag, string? digest)
    {
        var rules = await ProjectRulesAsync(c, cancellationToken, repository);
        if (rules.Count == 0)
        {
            return;
        }

        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT name FROM tags WHERE repository_id = $r AND ($n IS NULL OR name = $n) AND ($d IS NULL OR digest = $d) ORDER BY name";
        cmd.AddParameter("$r", repoId);
        cmd.AddParameter("$n", (object?)tag ?? DBNull.Value);
        cmd.AddParameter("$d", (object?)digest ?? DBNull.Value);
        foreach (string name in await ReadStringsAsync(cmd, cancellationToken))
        {
            if (ImmutableTagRule.FirstProtecting(rules, repository.Value, name) is { } rule)
            {
                throw new ImmutableTagException(repository.Value, name, rule.Id, delete: true);
            }
        }
    }

    private static void AddRuleParameters(DbCommand cmd, ImmutableTagRule rule)
    {
        cmd.AddParameter("$pn", rule.Project);
        cmd.AddParameter("$p", rule.ProjectId);
        cmd.AddParameter("$prio", rule.Priority);
        cmd.AddParameter("$dis", rule.Disabled ? 1 : 0);
        cmd.AddParameter("$tp", rule.TagPattern);
        cmd.AddParameter("$te", rule.TagExcludes ? 1 : 0);
        cmd.AddParameter("$rp", rule.RepositoryPattern);
        cmd.AddParameter("$re", rule.RepositoryExcludes ? 1 : 0);
    }

    private static async Task<List<ImmutableTagRule>> ReadRulesAsync(DbCommand cmd, CancellationToken cancellationToken)
    {
        var list = new List<ImmutableTagRule>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            list.Add(ReadRule(r));
        }

        return list;
    }

    private static ImmutableTagRule ReadRule(DbDataReader r) =>
        new(r.GetInt64(0), r.GetString(1), r.GetInt64(2), r.GetInt32(3), r.GetInt64(4) != 0,
            r.GetString(5), r.GetInt64(6) != 0, r.GetString(7), r.GetInt64(8) != 0);
}
