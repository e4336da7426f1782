using System.Data.Common;
using Wharf.Oci;
using Wharf.Registry.Data;
using Wharf.Registry.Policies;

namespace Wharf.Registry.Metadata;

public sealed partial class SqliteMetadataStore
{
    /// <summary>
    /// A manifest PUT on PostgreSQL, where every statement is a round trip: the same checks and writes
    /// as <see cref="WriteManifestAsync"/>, in two round trips before COMMIT. The first carries the
    /// transaction's lock and every read that decides (the repository, whether the manifest is there,
    /// the sizes of the blobs and child manifests it names, the project's immutable rules, the tags'
    /// current digests, the usage before); the second every write (the manifest, its references and
    /// tags, one statement each over arrays) and the usage after. The reads are all made under the
    /// lock, before the writes that depend on them, so what was checked holds at COMMIT.
    /// </summary>
    private async Task<ManifestPutResult> WriteManifestBatchedAsync(PostgreSqlConnection c, ManifestWrite write, CancellationToken cancellationToken)
    {
        var (repository, digest, mediaType, content, parsed, tags, limit) = write;
        string project = repository.Project;
        string name = repository.Value;
        string digestText = digest.ToString();
        long now = Now;
        var blobs = parsed.Blobs.DistinctBy(b => (b.Digest, b.Size, b.Urls is { Count: > 0 })).ToList();
        var children = parsed.Manifests.DistinctBy(m => (m.Digest, m.Size)).ToList();
        string[] blobDigests = [.. blobs.Select(b => b.Digest.ToString()).Distinct(StringComparer.Ordinal)];
        string[] childDigests = [.. children.Select(m => m.Digest.ToString()).Distinct(StringComparer.Ordinal)];
        string[] tagNames = [.. tags.Distinct(StringComparer.Ordinal)];

        long? repoId = null;
        bool exists = false;
        var blobSizes = new Dictionary<string, long>(StringComparer.Ordinal);
        var childSizes = new Dictionary<string, long>(StringComparer.Ordinal);
        var rules = new List<ImmutableTagRule>();
        var currentTags = new Dictionary<string, string>(StringComparer.Ordinal);
        long? usage = null;

        var reads = new List<(string, (string, object?)[])>
        {
            ("SELECT id FROM repositories WHERE name = $n", [("$n", name)]),
            ("SELECT 1 FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.name = $n AND m.digest = $d", [("$n", name), ("$d", digestText)]),
            ("""
             SELECT rb.digest, b.size FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id JOIN blobs b ON b.digest = rb.digest
             WHERE r.name = $n AND rb.digest = ANY($ds)
             """, [("$n", name), ("$ds", blobDigests)]),
            ("SELECT m.digest, m.size FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.name = $n AND m.digest = ANY($ds)",
                [("$n", name), ("$ds", childDigests)]),
            ($"SELECT {RuleColumns} FROM immutable_tag_rules WHERE project = $pn AND disabled = 0 ORDER BY priority, id", [("$pn", project)]),
            ("SELECT t.name, t.digest FROM tags t JOIN repositories r ON r.id = t.repository_id WHERE r.name = $n AND t.name = ANY($ts)",
                [("$n", name), ("$ts", tagNames)]),
        };
        if (limit is not null)
        {
            reads.Add(($"SELECT COALESCE(SUM(size), 0) FROM ({ProjectContent}) AS content", [("$p", project)]));
        }

        await using (var r = await c.ExecuteBatchAsync(reads, cancellationToken))
        {
            if (await r.ReadAsync(cancellationToken))
            {
                repoId = r.GetInt64(0);
            }

            await r.NextResultAsync(cancellationToken);
            exists = await r.ReadAsync(cancellationToken);
            await r.NextResultAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                blobSizes[r.GetString(0)] = r.GetInt64(1);
            }

            await r.NextResultAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                childSizes[r.GetString(0)] = r.GetInt64(1);
            }

            await r.NextResultAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                rules.Add(ReadRule(r));
            }

            await r.NextResultAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                currentTags[r.GetString(0)] = r.GetString(1);
            }

            if (limit is not null)
            {
                await r.NextResultAsync(cancellationToken);
                await r.ReadAsync(cancellationToken);
                usage = Convert.ToInt64(r.GetValue(0), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        if (!exists)
        {
            await CheckReferencesAsync(repository, blobs, children,
                d => Task.FromResult(blobSizes.TryGetValue(d, out long size) ? size : (long?)null),
                d => Task.FromResult(childSizes.TryGetValue(d, out long size) ? size : (long?)null));
        }

        // Immutable tags: decided now, refused (as WriteManifestAsync does) after the quota's verdict.
        ImmutableTagException? immutable = null;
        if (rules.Count > 0)
        {
            foreach (string tag in tags)
            {
                if (currentTags.TryGetValue(tag, out string? current) && current != digestText
                    && ImmutableTagRule.FirstProtecting(rules, name, tag) is { } rule)
                {
                    immutable = new ImmutableTagException(name, tag, rule.Id, delete: false);
                    break;
                }
            }
        }

        // A new repository is the one write the others need the result of (its id): a round trip of its own, on a repository's first push only.
        long id = repoId ?? await EnsureRepositoryAsync(c, cancellationToken, repository);
        var writes = new List<(string, (string, object?)[])>();
        if (!exists)
        {
            writes.Add(("""
                INSERT INTO manifests(repository_id, digest, media_type, artifact_type, size, content, subject, annotations, created_at)
                VALUES($r, $d, $mt, $at, $s, $c, $subj, $ann, $t)
                """,
                [("$r", id), ("$d", digestText), ("$mt", mediaType), ("$at", parsed.ArtifactType), ("$s", (long)content.Length),
                 ("$c", content), ("$subj", parsed.Subject?.Digest.ToString()), ("$ann", SerializeAnnotations(parsed.Annotations)), ("$t", now)]));
            if (blobDigests.Length + childDigests.Length > 0)
            {
                // Blobs first: a digest named both ways keeps the blob's row, as the statement-per-digest path does.
                writes.Add(("""
                    INSERT INTO manifest_references(repository_id, parent, child, child_is_manifest)
                    SELECT $r, $p, u.child, u.is_manifest FROM unnest($children, $kinds) AS u(child, is_manifest) ON CONFLICT DO NOTHING
                    """,
                    [("$r", id), ("$p", digestText), ("$children", blobDigests.Concat(childDigests).ToArray()),
                     ("$kinds", blobDigests.Select(_ => 0L).Concat(childDigests.Select(_ => 1L)).ToArray())]));
            }

            if (limit is not null)
            {
                writes.Add(($"SELECT COALESCE(SUM(size), 0) FROM ({ProjectContent}) AS content", [("$p", project)]));
            }
        }

        if (immutable is null && tagNames.Length > 0)
        {
            writes.Add(("""
                INSERT INTO tags(repository_id, name, digest, updated_at) SELECT $r, u.name, $d, $t FROM unnest($names) AS u(name)
                ON CONFLICT(repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at
                """,
                [("$r", id), ("$names", tagNames), ("$d", digestText), ("$t", now)]));
        }

        if (writes.Count > 0)
        {
            await using var r = await c.ExecuteBatchAsync(writes, cancellationToken);
            if (!exists && limit is { } max)
            {
                // The usage after the writes is the batch's one statement with rows (Npgsql's reader
                // passes over the INSERTs, which return none: it stands on the SELECT already).
                while (r.FieldCount == 0 && await r.NextResultAsync(cancellationToken))
                {
                }

                if (!await r.ReadAsync(cancellationToken))
                {
                    throw new InvalidOperationException("the project's usage was not read");
                }

                long before = usage!.Value;
                long after = Convert.ToInt64(r.GetValue(0), System.Globalization.CultureInfo.InvariantCulture);
                if (after > before && after > max)
                {
                    throw QuotaExceeded(project, before, max, after - before);
                }

                usage = after;
            }

            // The remaining statements run (and fail, should one) before the reader closes.
            while (await r.NextResultAsync(cancellationToken))
            {
            }
        }

        if (immutable is not null)
        {
            throw immutable;
        }

        return new ManifestPutResult(!exists, usage);
    }
}
