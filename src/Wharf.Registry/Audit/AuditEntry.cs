using Wharf.Oci;

namespace Wharf.Registry.Audit;

/// <summary>
/// One audited operation: who (a user, a robot, or "anonymous"), what (operation on a resource of a
/// type, in a project when it belongs to one), when, and whether it succeeded. The words follow
/// Harbor's audit log: operation push, pull, delete, create, update, login; resource types artifact,
/// tag, blob, repository, project, member, robot, quota, user.
/// </summary>
public sealed record AuditEntry(
    long Id, string Username, string Operation, string ResourceType, string Resource, string? Project, bool Success, DateTimeOffset OpTime);

/// <summary>Records operations without waiting for the database.</summary>
public interface IAuditLog
{
    void Record(string username, string operation, string resourceType, string resource, string? project, bool success = true);

    /// <summary>A manifest pull, audited (its count and time are <see cref="Accounting.PullAccounting"/>'s).</summary>
    void RecordPull(string username, RepositoryName repository, ManifestReference reference, Digest digest);

    /// <summary>Completes once everything recorded before the call is in the database.</summary>
    Task FlushAsync(CancellationToken cancellationToken);
}

/// <summary>Harbor's audit log filters (<c>q=operation=push,resource=~lab/</c>) in parsed form.</summary>
public sealed record AuditFilter(string Column, AuditMatch Match, IReadOnlyList<string> Values);

public enum AuditMatch
{
    /// <summary><c>k=v</c></summary>
    Exact,

    /// <summary><c>k=~v</c>: contains.</summary>
    Fuzzy,

    /// <summary><c>k=[a~b]</c>: between, either end optional.</summary>
    Range,

    /// <summary><c>k={a b c}</c>: any of.</summary>
    AnyOf,
}

public sealed record AuditQuery(IReadOnlyList<AuditFilter> Filters, string? Project, long? VisibleToUserId, int Page, int PageSize);

public interface IAuditLogStore
{
    Task AppendAsync(IReadOnlyList<AuditEntry> entries, CancellationToken cancellationToken);

    /// <summary>Newest first.</summary>
    Task<(IReadOnlyList<AuditEntry> Entries, long Total)> QueryAsync(AuditQuery query, CancellationToken cancellationToken);

    /// <summary>Deletes entries older than <paramref name="cutoff"/>; returns how many.</summary>
    Task<int> PurgeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}
