using Wharf.Oci;

namespace Wharf.Registry.Metadata;

public sealed partial class SqliteMetadataStore : IGcMetadataStore
{
    // A blob is garbage when no repository links it, no manifest refers to it and it is no
    // manifest itself — and it has been so for longer than the grace period.
    private const string Unreferenced = """
        NOT EXISTS(SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest)
        AND NOT EXISTS(SELECT 1 FROM manifest_references mr WHERE mr.child = b.digest)
        AND NOT EXISTS(SELECT 1 FROM manifests m WHERE m.digest = b.digest)
        """;

    public Task<IReadOnlyList<(Digest Digest, long Size)>> ListUnreferencedBlobsAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT b.digest, b.size FROM blobs b WHERE b.created_at < $t AND {Unreferenced}";
        cmd.Parameters.AddWithValue("$t", createdBefore.ToUnixTimeMilliseconds());
        var list = new List<(Digest, long)>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            list.Add((Digest.Parse(r.GetString(0)), r.GetInt64(1)));
        }

        return Task.FromResult<IReadOnlyList<(Digest, long)>>(list);
    }

    public Task<bool> DeleteBlobRecordIfUnreferencedAsync(Digest digest, CancellationToken cancellationToken)
    {
        using var c = Open();
        int n = Execute(c, null, $"DELETE FROM blobs AS b WHERE b.digest = $d AND {Unreferenced}", ("$d", digest.ToString()));
        return Task.FromResult(n > 0);
    }

    public Task<bool> BlobRecordExistsAsync(Digest digest, CancellationToken cancellationToken)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT 1 FROM blobs WHERE digest = $d";
        cmd.Parameters.AddWithValue("$d", digest.ToString());
        return Task.FromResult(cmd.ExecuteScalar() is not null);
    }
}

/// <summary>What garbage collection needs of the metadata.</summary>
public interface IGcMetadataStore
{
    Task<IReadOnlyList<(Digest Digest, long Size)>> ListUnreferencedBlobsAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken);

    /// <summary>Deletes the blob's row only if it is still unreferenced (re-checked in the same statement).</summary>
    Task<bool> DeleteBlobRecordIfUnreferencedAsync(Digest digest, CancellationToken cancellationToken);

    Task<bool> BlobRecordExistsAsync(Digest digest, CancellationToken cancellationToken);
}
