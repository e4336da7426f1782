using System.Collections.Concurrent;
using Wharf.Registry.Metadata;

namespace Wharf.Registry.Api;

/// <summary>
/// Manifests by (repository, reference), so a pull by tag costs no database read. Every write to
/// a repository bumps its generation and drops its entries; a reader stores what it read only if
/// the generation it saw before reading is still current, so a stale read is never kept.
/// Valid only while one process owns the metadata (the embedded SQLite default).
/// </summary>
public sealed class ManifestCache
{
    private const int MaxEntriesPerRepository = 1024;

    private readonly ConcurrentDictionary<string, RepositoryEntries> _repositories = new(StringComparer.Ordinal);

    public bool Enabled { get; init; } = true;

    public long Generation(string repository) => Entries(repository).Generation;

    public StoredManifest? Get(string repository, string reference) =>
        Enabled && _repositories.TryGetValue(repository, out var e) && e.Items.TryGetValue(reference, out var m) ? m : null;

    public void Set(string repository, string reference, StoredManifest manifest, long generationBeforeRead)
    {
        if (!Enabled)
        {
            return;
        }

        var e = Entries(repository);
        if (e.Items.Count >= MaxEntriesPerRepository)
        {
            e.Items.Clear();
        }

        e.Items[reference] = manifest;
        if (Interlocked.Read(ref e.Generation) != generationBeforeRead)
        {
            e.Items.TryRemove(reference, out _);
        }
    }

    public void Invalidate(string repository)
    {
        var e = Entries(repository);
        Interlocked.Increment(ref e.Generation);
        e.Items.Clear();
    }

    private RepositoryEntries Entries(string repository) => _repositories.GetOrAdd(repository, static _ => new RepositoryEntries());

    private sealed class RepositoryEntries
    {
        public long Generation;

        public ConcurrentDictionary<string, StoredManifest> Items { get; } = new(StringComparer.Ordinal);
    }
}
