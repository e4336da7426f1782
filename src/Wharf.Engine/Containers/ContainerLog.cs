using System.Globalization;
using System.Text;

namespace Wharf.Engine.Containers;

/// <summary>
/// podman's k8s-file log (what conmon writes): one record a line,
/// <c>2024-01-01T10:00:00.123456789+00:00 stdout F text</c>, <c>P</c> when the text read so far
/// ended without a newline, the stream the text came from (stdout only with a terminal).
/// </summary>
public sealed record ContainerLogRecord(DateTimeOffset Time, string TimeText, string Stream, bool Partial, string Text)
{
    /// <summary>A record line, or null when the line is not one (a log written raw by an older wharf).</summary>
    public static ContainerLogRecord? Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        string[] f = line.Split(' ', 4);
        if (f.Length < 3 || f[1] is not ("stdout" or "stderr") || f[2] is not ("F" or "P") || !TryParseTime(f[0], out var time))
        {
            return null;
        }

        return new ContainerLogRecord(time, f[0], f[1], f[2] == "P", f.Length > 3 ? f[3] : string.Empty);
    }

    /// <summary>A raw log's text, as one stdout record per line with no time (old logs print, they cannot be filtered by time).</summary>
    public static ContainerLogRecord Raw(string text, bool partial) => new(DateTimeOffset.MinValue, string.Empty, "stdout", partial, text);

    /// <summary>conmon's time: RFC 3339 with nine fraction digits and a numeric offset.</summary>
    public static string FormatTime(DateTimeOffset t)
    {
        string ticks = (t.Ticks % TimeSpan.TicksPerSecond).ToString("D7", CultureInfo.InvariantCulture);
        return t.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + "." + ticks + "00" + t.ToString("zzz", CultureInfo.InvariantCulture);
    }

    /// <summary>How <c>logs -t</c> prints the time: Go's RFC3339Nano (trailing zeros trimmed, Z for UTC), in the local zone.</summary>
    public string DisplayTime()
    {
        var local = Time.ToLocalTime();
        int dot = TimeText.IndexOf('.', StringComparison.Ordinal);
        string fraction = string.Empty;
        if (dot > 0)
        {
            int end = dot + 1;
            while (end < TimeText.Length && char.IsAsciiDigit(TimeText[end]))
            {
                end++;
            }

            fraction = TimeText[(dot + 1)..end].TrimEnd('0');
        }

        string zone = local.Offset == TimeSpan.Zero ? "Z" : local.ToString("zzz", CultureInfo.InvariantCulture);
        return local.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + (fraction.Length > 0 ? "." + fraction : string.Empty) + zone;
    }

    private static bool TryParseTime(string text, out DateTimeOffset time) =>
        Events.WharfEvent.TryParseRfc3339(text, out time) && text.Length > 19 && text[4] == '-' && text[10] == 'T';
}

/// <summary>
/// Writes a container's output to its k8s-file log as it arrives: each read becomes one record per
/// line, the text after the last newline a partial (P) record. One writer serves both streams so
/// records never interleave mid-line.
/// </summary>
public sealed class ContainerLogWriter : IDisposable
{
    private readonly FileStream _file;
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly long _sizeMax;

    /// <param name="sizeMax">--log-opt max-size: past it the log starts again empty, as conmon truncates it; 0: no limit.</param>
    public ContainerLogWriter(string path, long sizeMax = 0, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _sizeMax = sizeMax;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        _file.Seek(0, SeekOrigin.End);
    }

    /// <summary>Copies <paramref name="input"/> to the log as <paramref name="stream"/> records (and raw to <paramref name="echo"/>, attached) until it ends.</summary>
    /// <remarks>
    /// With terminal: the bytes are what runc relays from a container's terminal, where
    /// runc turns ONLCR off; podman's conmon logs the terminal with it on, so the log gets each bare
    /// \n as \r\n (what the terminal would have produced), the echo the bytes as they came.
    /// </remarks>
    public Task PumpAsync(Stream input, string stream, Stream? echo, CancellationToken cancellationToken) => PumpAsync(input, stream, echo, terminal: false, cancellationToken);

    public async Task PumpAsync(Stream input, string stream, Stream? echo, bool terminal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        byte[] buffer = new byte[1 << 16];
        byte[]? translated = terminal ? new byte[2 << 16] : null;
        bool afterCr = false;
        int n;
        while ((n = await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (echo is not null)
            {
                await echo.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                await echo.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            if (translated is null)
            {
                Write(stream, buffer.AsSpan(0, n));
                continue;
            }

            int length = 0;
            for (int i = 0; i < n; i++)
            {
                byte b = buffer[i];
                if (b == (byte)'\n' && !afterCr)
                {
                    translated[length++] = (byte)'\r';
                }

                translated[length++] = b;
                afterCr = b == (byte)'\r';
            }

            Write(stream, translated.AsSpan(0, length));
        }
    }

    /// <summary>The detached container's writer: the stdout FIFO, then the stderr one (the order the monitor opens them), until both end.</summary>
    public static async Task PumpFifosAsync(string path, long sizeMax, string stdoutFifo, string stderrFifo, CancellationToken cancellationToken)
    {
        using var writer = new ContainerLogWriter(path, sizeMax);
        var stdout = new FileStream(stdoutFifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, useAsync: false);
        await using (stdout.ConfigureAwait(false))
        {
            var stderr = new FileStream(stderrFifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, useAsync: false);
            await using (stderr.ConfigureAwait(false))
            {
                // Blocking reads on FIFOs: each on its own thread.
                await Task.WhenAll(
                    Task.Run(() => writer.PumpAsync(stdout, "stdout", null, cancellationToken), cancellationToken),
                    Task.Run(() => writer.PumpAsync(stderr, "stderr", null, cancellationToken), cancellationToken)).ConfigureAwait(false);
            }
        }
    }

    public void Write(string stream, ReadOnlySpan<byte> data)
    {
        // The time is taken under the lock, so the records of both streams stand in time order.
        lock (_lock)
        {
            WriteLocked(stream, data);
        }
    }

    private void WriteLocked(string stream, ReadOnlySpan<byte> data)
    {
        byte[] prefix = Encoding.UTF8.GetBytes(ContainerLogRecord.FormatTime(_time.GetLocalNow()) + " " + stream + " ");
        using var record = new MemoryStream();
        while (data.Length > 0)
        {
            int nl = data.IndexOf((byte)'\n');
            record.Write(prefix);
            record.Write(nl >= 0 ? "F "u8 : "P "u8);
            record.Write(nl >= 0 ? data[..nl] : data);
            record.WriteByte((byte)'\n');
            data = nl >= 0 ? data[(nl + 1)..] : [];
        }

        if (_sizeMax > 0 && _file.Length + record.Length > _sizeMax)
        {
            _file.SetLength(0);
            _file.Seek(0, SeekOrigin.Begin);
        }

        _file.Write(record.GetBuffer().AsSpan(0, (int)record.Length));
        _file.Flush();
    }

    public void Dispose() => _file.Dispose();
}
