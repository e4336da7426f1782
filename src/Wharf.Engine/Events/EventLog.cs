using Wharf.Engine.Containers;
using Wharf.Engine.Storage;

namespace Wharf.Engine.Events;

/// <summary>
/// podman's <c>events_logger = "file"</c>: every event one JSON line appended to
/// <c>&lt;runroot&gt;/wharf/events/events.log</c> under a lock, so lines from concurrent wharf
/// processes never interleave. Recording is best effort: a full disk or a lock held too long loses
/// the event, never the command that made it.
/// </summary>
public sealed class EventLog
{
    private readonly TimeProvider _time;

    public EventLog(string runRoot, TimeProvider time, bool enabled = true)
    {
        ArgumentNullException.ThrowIfNull(runRoot);
        Path = System.IO.Path.Combine(runRoot, "wharf", "events", "events.log");
        _time = time ?? TimeProvider.System;
        Enabled = enabled;
    }

    public string Path { get; }

    /// <summary><c>--events-backend none</c> turns recording off.</summary>
    public bool Enabled { get; }

    public void Write(WharfEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (!Enabled)
        {
            return;
        }

        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            using (FileLock.Acquire(Path + ".lock", "the event log", TimeSpan.FromSeconds(5)))
            {
                File.AppendAllText(Path, e.ToJson() + "\n");
            }
        }
        catch (Exception x) when (x is IOException or UnauthorizedAccessException or WharfException)
        {
            // Best effort by design: see the type's comment.
        }
    }

    public void Image(string status, string? id, string? name) =>
        Write(new WharfEvent { Type = WharfEvent.ImageType, Status = status, Id = id, Name = name, Time = _time.GetUtcNow() });

    public void Container(string status, ContainerRecord c, int exitCode = 0, DateTimeOffset? at = null)
    {
        ArgumentNullException.ThrowIfNull(c);
        Write(new WharfEvent
        {
            Type = WharfEvent.ContainerType,
            Status = status,
            Id = c.Id,
            Image = c.ImageName,
            Name = c.Name,
            ContainerExitCode = exitCode,
            Time = at ?? _time.GetUtcNow(),
            Attributes = c.Settings.Labels ?? new Dictionary<string, string>(),
        });
    }

    public void Volume(string status, string name) =>
        Write(new WharfEvent { Type = WharfEvent.VolumeType, Status = status, Name = name, Time = _time.GetUtcNow() });

    /// <summary>Every recorded event in file order; lines that do not parse are skipped.</summary>
    public IEnumerable<WharfEvent> Read() => ReadFrom(0, out _);

    /// <summary>Events from byte <paramref name="offset"/> on; <paramref name="next"/> is where the last complete line ended.</summary>
    public IReadOnlyList<WharfEvent> ReadFrom(long offset, out long next)
    {
        next = offset;
        var events = new List<WharfEvent>();
        if (!File.Exists(Path))
        {
            return events;
        }

        using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (offset > stream.Length)
        {
            offset = 0;
        }

        stream.Position = offset;
        using var reader = new StreamReader(stream);
        string rest = reader.ReadToEnd();
        int start = 0;
        while (true)
        {
            int nl = rest.IndexOf('\n', start);
            if (nl < 0)
            {
                break;
            }

            if (WharfEvent.Parse(rest[start..nl]) is { } e)
            {
                events.Add(e);
            }

            start = nl + 1;
        }

        next = offset + System.Text.Encoding.UTF8.GetByteCount(rest.AsSpan(0, start));
        return events;
    }
}
