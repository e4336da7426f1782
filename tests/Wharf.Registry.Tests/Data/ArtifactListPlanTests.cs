using System.Data.Common;
using Wharf.Registry.Data;
using Wharf.Registry.Metadata;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Data;

/// <summary>
/// The artifact list's "not a child of an index" test runs once per manifest of a repository. SQLite,
/// without statistics, once answered it from the primary key's repository prefix and read every reference
/// of the repository per manifest (minutes for 10,000 artifacts). Migration 13's index covers all three
/// columns; the plan must use it, with no statistics and with references in the table.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Trait("Database", "sqlite-only")] // EXPLAIN QUERY PLAN is SQLite's
public sealed class ArtifactListPlanTests
{
    [Fact]
    public async Task TopLevelTest_UsesTheCoveringChildIndex()
    {
        using var directory = new TempDirectory();
        using var database = RegistryDatabase.Create(null, directory.Path);
        await using var c = await database.OpenAsync(CancellationToken.None);
        var plan = await PlanAsync(c, $"SELECT COUNT(*) FROM manifests m WHERE m.repository_id = 1 AND {SqliteMetadataStore.TopLevel}");

        Assert.Contains("ix_manifest_references_child_kind", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("SEARCH mr USING PRIMARY KEY", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChildIndex_WithoutKind_IsGone()
    {
        using var directory = new TempDirectory();
        using var database = RegistryDatabase.Create(null, directory.Path);
        await using var c = await database.OpenAsync(CancellationToken.None);

        Assert.Equal(0L, await c.ScalarAsync<long>("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'ix_manifest_references_child';", CancellationToken.None));
        Assert.Equal(1L, await c.ScalarAsync<long>("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'ix_manifest_references_child_kind';", CancellationToken.None));
    }

    private static async Task<string> PlanAsync(DbConnection c, string sql)
    {
        using var command = c.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + sql;
        using var reader = await command.ExecuteReaderAsync();
        var lines = new List<string>();
        while (await reader.ReadAsync())
        {
            lines.Add(reader.GetString(3));
        }

        return string.Join("\n", lines);
    }
}
