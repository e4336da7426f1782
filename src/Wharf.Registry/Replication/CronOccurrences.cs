namespace Wharf.Registry.Replication;

/// <summary>
/// The next occurrence of each scheduled policy's cron, for the schedulers that start policy runs
/// (replication, retention). A policy seen for the first time, or whose cron changed, counts from
/// now: occurrences before it are not caught up. A policy no longer listed is forgotten. Kept in
/// memory per instance; with several instances each sees an occurrence come due and the caller
/// claims it through the database before running it.
/// </summary>
public sealed class CronOccurrences
{
    private readonly Dictionary<long, (string Cron, DateTimeOffset Next)> _next = [];

    /// <summary>
    /// Reads the given schedules (a policy's ID and cron; an unparsable cron is passed over) and
    /// returns those whose occurrence has come by <paramref name="now"/>, each with the occurrence's
    /// time. The caller runs or skips each one, then calls <see cref="Advance"/>.
    /// </summary>
    public IReadOnlyList<(long Id, DateTimeOffset Occurrence)> Due(IEnumerable<(long Id, string? Cron)> schedules, DateTimeOffset now)
    {
        var listed = schedules.ToList();
        foreach (long gone in _next.Keys.Except(listed.Select(s => s.Id)).ToList())
        {
            _next.Remove(gone);
        }

        var due = new List<(long, DateTimeOffset)>();
        foreach (var (id, text) in listed)
        {
            if (!ReplicationPolicy.TryParseCron(text, out var cron, out _))
            {
                continue;
            }

            if (!_next.TryGetValue(id, out var entry) || entry.Cron != text)
            {
                entry = (text!, After(cron!, now));
                _next[id] = entry;
            }

            if (entry.Next <= now)
            {
                due.Add((id, entry.Next));
            }
        }

        return due;
    }

    /// <summary>Moves a policy that came due on to its first occurrence after <paramref name="now"/>.</summary>
    public void Advance(long id, DateTimeOffset now)
    {
        if (_next.TryGetValue(id, out var entry) && ReplicationPolicy.TryParseCron(entry.Cron, out var cron, out _))
        {
            _next[id] = (entry.Cron, After(cron!, now));
        }
    }

    private static DateTimeOffset After(Cronos.CronExpression cron, DateTimeOffset now) =>
        cron.GetNextOccurrence(now.UtcDateTime) is { } next ? new DateTimeOffset(next) : DateTimeOffset.MaxValue;
}
