using System.Globalization;
using Wharf.Oci;
using Wharf.Registry.Data;
using Wharf.Registry.Metadata;
using Wharf.Registry.Storage;

namespace Wharf.Registry.Gc;

/// <summary>One inconsistency fsck found, and whether repair fixed it.</summary>
public sealed record ConsistencyProblem(string Kind, string Subject, string Detail, bool Repaired);

/// <summary>
/// The offline consistency check of a data directory (wharfd is not running: the caller holds the
/// data-directory lock). It compares the metadata with the files:
/// <list type="bullet">
/// <item>a blob row without its file (content lost): repaired by dropping the row only when nothing refers to it;</item>
/// <item>a blob file without a row (an interrupted commit): repaired by removing the file;</item>
/// <item>a blob whose bytes do not hash to its digest (corruption): never repaired, the bytes are wrong;</item>
/// <item>a row whose size is not the file's (a project's usage, computed from row sizes, would disagree
/// with the content): repaired by recording the file's size when the bytes match the digest;</item>
/// <item>a repository link to a digest with no row (counts nothing, serves nothing): repaired by dropping the link;</item>
/// <item>upload data without a session row, and session rows without data: repaired by removing them.</item>
/// </list>
/// </summary>
public sealed class ConsistencyCheck(SqliteMetadataStore metadata, FileSystemBlobStore blobs, string dataDirectory)
{
    public async Task<IReadOnlyList<ConsistencyProblem>> RunAsync(bool repair, CancellationToken cancellationToken)
    {
        var problems = new List<ConsistencyProblem>();
        await using var c = await metadata.Database.OpenAsync(cancellationToken).ConfigureAwait(false);

        var rows = new Dictionary<Digest, long>();
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT digest, size FROM blobs";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                if (Digest.TryParse(r.GetString(0), out var d))
                {
                    rows[d] = r.GetInt64(1);
                }
            }
        }

        foreach (var (digest, size) in rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long? fileSize = blobs.Stat(digest);
            if (fileSize is null)
            {
                bool referenced = IsReferenced(c, digest);
                bool fixedIt = repair && !referenced && Execute(c, "DELETE FROM blobs WHERE digest = $d", digest) > 0;
                problems.Add(new ConsistencyProblem("row without file", digest.ToString(),
                    referenced ? "the blob's content is lost and repositories or manifests still refer to it; push it again" : "nothing refers to it", fixedIt));
                continue;
            }

            var actual = await HashAsync(digest, cancellationToken).ConfigureAwait(false);
            if (actual != digest)
            {
                problems.Add(new ConsistencyProblem("digest mismatch", digest.ToString(), $"the file's bytes hash to {actual}: the content is corrupt; delete and push it again", false));
                continue;
            }

            if (fileSize.Value != size)
            {
                bool fixedIt = repair && Execute(c, "UPDATE blobs SET size = $s WHERE digest = $d", digest, fileSize.Value) > 0;
                problems.Add(new ConsistencyProblem("size mismatch", digest.ToString(),
                    string.Create(CultureInfo.InvariantCulture, $"recorded {size} bytes, the file has {fileSize.Value}: quota usage disagreed with the content"), fixedIt));
            }
        }

        foreach (var digest in blobs.Enumerate().ToList())
        {
            if (rows.ContainsKey(digest))
            {
                continue;
            }

            if (repair)
            {
                blobs.Delete(digest);
            }

            problems.Add(new ConsistencyProblem("file without row", digest.ToString(), "left by an interrupted commit; no repository can serve it", repair));
        }

        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = """
                SELECT r.name, rb.digest FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
                WHERE NOT EXISTS(SELECT 1 FROM blobs b WHERE b.digest = rb.digest)
                """;
            var links = new List<(string Repository, string Digest)>();
            using (var r = cmd.ExecuteReader())
            {
                while (r.Read())
                {
                    links.Add((r.GetString(0), r.GetString(1)));
                }
            }

            foreach (var (repository, digest) in links)
            {
                bool fixedIt = repair && ExecuteText(c,
                    "DELETE FROM repository_blobs WHERE digest = $d AND repository_id = (SELECT id FROM repositories WHERE name = $n)", ("$d", digest), ("$n", repository)) > 0;
                problems.Add(new ConsistencyProblem("link without blob", $"{repository}@{digest}", "the repository links a blob the registry has no record of", fixedIt));
            }
        }

        var sessions = new HashSet<string>(StringComparer.Ordinal);
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT id FROM uploads";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                sessions.Add(r.GetString(0));
            }
        }

        string uploads = Path.Combine(dataDirectory, "uploads");
        var files = Directory.Exists(uploads)
            ? Directory.EnumerateFiles(uploads).Select(Path.GetFileName).OfType<string>().ToHashSet(StringComparer.Ordinal)
            : [];
        foreach (string id in files.Where(f => !sessions.Contains(f)))
        {
            if (repair)
            {
                File.Delete(Path.Combine(uploads, id));
            }

            problems.Add(new ConsistencyProblem("upload without session", id, "upload data no session refers to", repair));
        }

        foreach (string id in sessions.Where(s => !files.Contains(s)))
        {
            bool fixedIt = repair && ExecuteText(c, "DELETE FROM uploads WHERE id = $d", ("$d", id)) > 0;
            problems.Add(new ConsistencyProblem("session without upload", id, "an upload session whose data is gone", fixedIt));
        }

        return problems;
    }

    private async Task<Digest> HashAsync(Digest digest, CancellationToken cancellationToken)
    {
        await using var stream = blobs.OpenRead(digest);
        using var hasher = Digest.CreateHasher(digest.Algorithm);
        byte[] buffer = new byte[256 * 1024];
        int n;
        while ((n = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            hasher.AppendData(buffer, 0, n);
        }

        return Digest.FromHasher(digest.Algorithm, hasher);
    }

    private static bool IsReferenced(System.Data.Common.DbConnection c, Digest digest)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT 1 WHERE EXISTS(SELECT 1 FROM repository_blobs WHERE digest = $d)
            OR EXISTS(SELECT 1 FROM manifest_references WHERE child = $d)
            """;
        cmd.AddParameter("$d", digest.ToString());
        return cmd.ExecuteScalar() is not null;
    }

    private static int Execute(System.Data.Common.DbConnection c, string sql, Digest digest, long? size = null)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.AddParameter("$d", digest.ToString());
        if (size is { } s)
        {
            cmd.AddParameter("$s", s);
        }

        return cmd.ExecuteNonQuery();
    }

    private static int ExecuteText(System.Data.Common.DbConnection c, string sql, params (string Name, string Value)[] parameters)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            cmd.AddParameter(name, value);
        }

        return cmd.ExecuteNonQuery();
    }
}
