using System.Diagnostics;
using System.Globalization;
using Wharf.Engine;
using Wharf.Oci;

namespace Wharf.Cli.Output;

/// <summary>
/// podman's live blob lines on a terminal: one line per blob with a bar, bytes and rate, redrawn in
/// place (ANSI cursor-up and erase-line) at most ten times a second, then left as <c>… done</c>.
/// </summary>
public sealed class TerminalProgress(TextWriter err) : ITransferProgress
{
    private const int BarWidth = 30;
    private static readonly TimeSpan RedrawEvery = TimeSpan.FromMilliseconds(100);

    private readonly List<Row> _rows = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _lastDraw = TimeSpan.MinValue;
    private int _drawnLines;

    public void Begin(string label, Descriptor blob)
    {
        if (Find(blob) is null)
        {
            _rows.Add(new Row(label, blob, _clock.Elapsed));
        }

        Draw(force: true);
    }

    public void Advance(Descriptor blob, long bytes)
    {
        if (Find(blob) is { } row)
        {
            row.Done += bytes;
        }

        Draw(force: false);
    }

    public void End(Descriptor blob, string outcome)
    {
        if (Find(blob) is { } row)
        {
            row.Outcome = outcome;
        }

        Draw(force: true);
    }

    public void Complete() => Draw(force: true);

    private Row? Find(Descriptor blob) => _rows.Find(r => r.Blob.Digest == blob.Digest);

    private void Draw(bool force)
    {
        var now = _clock.Elapsed;
        if (!force && now - _lastDraw < RedrawEvery)
        {
            return;
        }

        _lastDraw = now;
        if (_drawnLines > 0)
        {
            err.Write($"\u001b[{_drawnLines}A");
        }

        foreach (var row in _rows)
        {
            err.Write("\u001b[2K");
            err.WriteLine(Render(row, now));
        }

        _drawnLines = _rows.Count;
        err.Flush();
    }

    internal static string Render(Row row, TimeSpan now)
    {
        string digest = row.Blob.Digest.ToString();
        string head = $"{row.Label} {digest}";
        if (row.Outcome is not null)
        {
            return $"{head} {row.Outcome}";
        }

        long total = Math.Max(row.Blob.Size, 1);
        double fraction = Math.Clamp((double)row.Done / total, 0, 1);
        int filled = (int)(fraction * BarWidth);
        string bar = filled >= BarWidth ? new string('=', BarWidth) : new string('=', filled) + ">" + new string('-', BarWidth - filled - 1);
        double seconds = Math.Max((now - row.Started).TotalSeconds, 0.001);
        return $"{head} [{bar}] {Size(row.Done)} / {Size(row.Blob.Size)} ({Size((long)(row.Done / seconds))}/s)";
    }

    internal static string Size(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1)
        {
            v /= 1024;
            u++;
        }

        return v.ToString(u == 0 ? "0" : "0.0", CultureInfo.InvariantCulture) + units[u];
    }

    internal sealed class Row(string label, Descriptor blob, TimeSpan started)
    {
        public string Label { get; } = label;

        public Descriptor Blob { get; } = blob;

        public TimeSpan Started { get; } = started;

        public long Done { get; set; }

        public string? Outcome { get; set; }
    }
}
