namespace Wharf.Registry;

public sealed class RegistryOptions
{
    /// <summary>Root of blobs, uploads and (unless <see cref="Database"/> names PostgreSQL) the SQLite database.</summary>
    public string DataDirectory { get; set; } = "wharf-data";

    /// <summary>
    /// The metadata database: empty for SQLite's <c>registry.db</c> in <see cref="DataDirectory"/>, or a
    /// <c>postgresql://USER:PASSWORD@HOST:PORT/DB</c> URL (configuration key <c>Registry:Database</c>).
    /// </summary>
    public string? Database { get; set; }

    /// <summary>How long an idle upload session is kept before GC may remove it.</summary>
    public TimeSpan UploadSessionLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Smallest chunk a client should send (OCI-Chunk-Min-Length); 0 disables the header.</summary>
    public long ChunkMinLength { get; set; }

    /// <summary>Unreferenced blobs younger than this are never collected: they may belong to a push in progress.</summary>
    public TimeSpan GcGracePeriod { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// A blob linked to a repository (uploaded or mounted) that no manifest of that repository refers
    /// to is unlinked by GC once the link is this old, so a refused or abandoned push frees its space
    /// and its project's quota.
    /// </summary>
    public TimeSpan UnreferencedLinkGracePeriod { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often online GC runs; zero disables the schedule.</summary>
    public TimeSpan GcInterval { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// Several wharfd instances serve this data directory (and its database) at once, behind a load
    /// balancer: each takes the data directory's lock shared instead of exclusive, keeps no manifest
    /// cache, and pins blobs in the database while it commits them (docs/registry.md, "Several instances").
    /// </summary>
    public bool SharedDataDirectory { get; set; }

    /// <summary>
    /// On SIGTERM, how long in-flight uploads may take to finish while new ones are refused
    /// (503 + Retry-After) and <c>/readyz</c> answers 503; then the server stops.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// On PostgreSQL, how often this instance renews its row in <c>instances</c>; the row counts as live
    /// for three intervals, which is how long an offline gc/fsck waits after an instance was killed.
    /// </summary>
    public TimeSpan InstanceHeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Maximum page size for tag lists and the catalog.</summary>
    public int MaxPageSize { get; set; } = 10_000;
}
