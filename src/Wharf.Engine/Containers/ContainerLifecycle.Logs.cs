using System.Text;

namespace Wharf.Engine.Containers;

/// <summary>podman logs' options: which containers, and which of their records to print how.</summary>
public sealed record LogsOptions
{
    public required IReadOnlyList<string> Containers { get; init; }

    public bool Follow { get; init; }

    public bool Timestamps { get; init; }

    /// <summary>Prefix records with the container's name rather than its short ID (several containers).</summary>
    public bool Names { get; init; }

    public DateTimeOffset? Since { get; init; }

    public DateTimeOffset? Until { get; init; }

    /// <summary>The last N full lines; negative: all.</summary>
    public int Tail { get; init; } = -1;
}

public sealed partial class ContainerLifecycle
{
    /// <summary>Where a container's log is: <c>--log-opt path=</c>, else ctr.log in its directory.</summary>
    public string LogPathOf(ContainerRecord c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return c.RuntimeFlags.LogPath ?? Store.LogPath(c.Id);
    }

    /// <summary>
    /// podman logs: each container's records in turn (podman reads several at once, so its order
    /// between containers is not fixed either), stdout's text to stdout and stderr's to stderr;
    /// with follow, until the container exits.
    /// </summary>
    public async Task LogsAsync(LogsOptions options, Stream stdout, Stream stderr, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var containers = options.Containers.Select(Lookup).ToList();
        foreach (var c in containers)
        {
            if (c.RuntimeFlags.LogDriver is "none" or "passthrough")
            {
                throw new WharfException($"this container is using the '{c.RuntimeFlags.LogDriver}' log driver, cannot read logs: this container is not logging output");
            }
        }

        foreach (var c in containers)
        {
            string? prefix = containers.Count > 1 ? (options.Names ? c.Name : c.Id[..12]) + " " : null;
            await LogsOfAsync(c, options, prefix, stdout, stderr, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task LogsOfAsync(ContainerRecord c, LogsOptions options, string? prefix, Stream stdout, Stream stderr, CancellationToken cancellationToken)
    {
        string path = LogPathOf(c);
        if (!File.Exists(path))
        {
            if (!options.Follow || c.State != ContainerStates.Running)
            {
                return;
            }

            await File.WriteAllBytesAsync(path, [], cancellationToken).ConfigureAwait(false);
        }

        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        await using (file.ConfigureAwait(false))
        {
            var pending = new List<byte>();
            bool first = true;
            bool raw = false;
            byte[] buffer = new byte[1 << 16];
            while (true)
            {
                int n = await file.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                bool ended = n == 0 && (!options.Follow || Store.Refresh(Store.TryRead(c.Id) ?? c).State != ContainerStates.Running);
                if (ended)
                {
                    // One more read after the exit, for what was written just before it.
                    while ((n = await file.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        pending.AddRange(buffer.AsSpan(0, n));
                    }
                }
                else if (n == 0)
                {
                    await Task.Delay(100, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                else
                {
                    pending.AddRange(buffer.AsSpan(0, n));
                }

                // Only whole lines are records; the rest waits for more (or, at the end, is taken as it is).
                int last = pending.LastIndexOf((byte)'\n');
                int take = ended ? pending.Count : last + 1;
                if (take > 0)
                {
                    string text = Encoding.UTF8.GetString([.. pending.GetRange(0, take)]);
                    pending.RemoveRange(0, take);
                    var lines = text.Split('\n');
                    if (text.EndsWith('\n'))
                    {
                        lines = lines[..^1];
                    }

                    bool initial = first;
                    if (first && lines.Length > 0)
                    {
                        // A log an older wharf wrote raw: print it as it is.
                        raw = ContainerLogRecord.Parse(lines[0]) is null;
                        first = false;
                    }

                    bool open = !text.EndsWith('\n');
                    var records = lines.Select((l, i) => raw ? ContainerLogRecord.Raw(l, open && i == lines.Length - 1) : ContainerLogRecord.Parse(l)).OfType<ContainerLogRecord>().ToList();
                    await PrintAsync(Select(records, options, tail: initial), options, prefix, stdout, stderr, cancellationToken).ConfigureAwait(false);
                }

                if (ended)
                {
                    return;
                }
            }
        }
    }

    /// <summary>podman 4.3's --tail counts full (F) records from the end; partial ones before the Nth are left out.</summary>
    private static IEnumerable<ContainerLogRecord> Select(List<ContainerLogRecord> records, LogsOptions options, bool tail)
    {
        IEnumerable<ContainerLogRecord> chosen = records;
        if (options.Tail >= 0 && tail)
        {
            int full = 0;
            int start = records.Count;
            while (start > 0 && full < options.Tail)
            {
                start--;
                if (!records[start].Partial)
                {
                    full++;
                }
            }

            chosen = records.Skip(start);
        }

        return chosen.Where(r => (options.Since is not { } s || r.Time > s) && (options.Until is not { } u || r.Time < u));
    }

    private static async Task PrintAsync(IEnumerable<ContainerLogRecord> records, LogsOptions options, string? prefix, Stream stdout, Stream stderr, CancellationToken cancellationToken)
    {
        foreach (var r in records)
        {
            var sb = new StringBuilder();
            sb.Append(prefix);
            if (options.Timestamps && r.TimeText.Length > 0)
            {
                sb.Append(r.DisplayTime()).Append(' ');
            }

            sb.Append(r.Text);
            if (!r.Partial)
            {
                sb.Append('\n');
            }

            var target = r.Stream == "stderr" ? stderr : stdout;
            await target.WriteAsync(Encoding.UTF8.GetBytes(sb.ToString()), cancellationToken).ConfigureAwait(false);
        }

        await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
        await stderr.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
