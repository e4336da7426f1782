using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Wharf.Engine.Containers;

/// <summary>The rows podman top prints: a header and one row per process, each a list of cells.</summary>
public sealed record TopReport(IReadOnlyList<string> Headers, IReadOnlyList<IReadOnlyList<string>> Rows);

/// <summary>
/// podman top's process table (its psgo descriptors), read from the host's /proc: the container's
/// processes are those in its init process's PID namespace; PIDs are shown as the container sees
/// them (the last NSpid entry), users through the container's own /etc/passwd.
/// </summary>
public static class ContainerTop
{
    /// <summary>podman top's default descriptors.</summary>
    public static readonly IReadOnlyList<string> DefaultDescriptors = ["user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args"];

    private static readonly Dictionary<string, string> Headers = new(StringComparer.Ordinal)
    {
        ["user"] = "USER", ["pid"] = "PID", ["ppid"] = "PPID", ["pcpu"] = "%CPU", ["etime"] = "ELAPSED",
        ["tty"] = "TTY", ["time"] = "TIME", ["args"] = "COMMAND", ["comm"] = "COMMAND", ["uid"] = "UID",
        ["gid"] = "GID", ["group"] = "GROUP", ["nice"] = "NI", ["pgid"] = "PGID", ["state"] = "STATE",
        ["hpid"] = "HPID",
    };

    private sealed record Proc(int HostPid, int Pid, int HostPPid, int Uid, int Gid, string Comm, string Args, char State, int Nice, int Pgid, int Tty, double CpuSeconds, double StartSeconds);

    public static void CheckDescriptors(IReadOnlyList<string> descriptors)
    {
        ArgumentNullException.ThrowIfNull(descriptors);
        foreach (string d in descriptors.Where(d => !Headers.ContainsKey(d)))
        {
            throw new WharfException($"unknown descriptor: {d}");
        }
    }

    public static TopReport Read(int initPid, string rootfs, IReadOnlyList<string> descriptors)
    {
        ArgumentNullException.ThrowIfNull(descriptors);
        CheckDescriptors(descriptors);
        string ns = PidNamespace(initPid) ?? throw new WharfException($"reading the PID namespace of process {initPid}: the process is gone");
        var procs = new List<Proc>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                && PidNamespace(pid) == ns && ReadProc(pid) is { } p)
            {
                procs.Add(p);
            }
        }

        var inNamespace = procs.ToDictionary(p => p.HostPid, p => p.Pid);
        var users = IdNames(Path.Combine(rootfs, "etc", "passwd"));
        var groups = IdNames(Path.Combine(rootfs, "etc", "group"));
        long now = SinceBootNanoseconds();
        var rows = new List<IReadOnlyList<string>>();
        foreach (var p in procs.OrderBy(p => p.Pid))
        {
            long elapsedNs = Math.Max(0, now - (long)(p.StartSeconds * 1e9));
            double elapsed = elapsedNs / 1e9;
            rows.Add([.. descriptors.Select(d => d switch
            {
                "user" => users.GetValueOrDefault(p.Uid) ?? p.Uid.ToString(CultureInfo.InvariantCulture),
                "group" => groups.GetValueOrDefault(p.Gid) ?? p.Gid.ToString(CultureInfo.InvariantCulture),
                "uid" => p.Uid.ToString(CultureInfo.InvariantCulture),
                "gid" => p.Gid.ToString(CultureInfo.InvariantCulture),
                "pid" => p.Pid.ToString(CultureInfo.InvariantCulture),
                "hpid" => p.HostPid.ToString(CultureInfo.InvariantCulture),
                "ppid" => inNamespace.GetValueOrDefault(p.HostPPid).ToString(CultureInfo.InvariantCulture),
                "pgid" => p.Pgid.ToString(CultureInfo.InvariantCulture),
                "nice" => p.Nice.ToString(CultureInfo.InvariantCulture),
                "state" => p.State.ToString(),
                "pcpu" => (elapsed > 0 ? p.CpuSeconds / elapsed * 100 : 0).ToString("0.000", CultureInfo.InvariantCulture),
                "etime" => GoDuration(elapsedNs),
                "time" => GoDuration((long)Math.Floor(p.CpuSeconds) * 1_000_000_000),
                "tty" => Tty(p.Tty),
                "comm" => p.Comm,
                _ => p.Args,
            })]);
        }

        return new TopReport([.. descriptors.Select(d => Headers[d])], rows);
    }

    private static string? PidNamespace(int pid)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/ns/pid").LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>One process from /proc/PID/{stat,status,cmdline}; null when it exits while being read.</summary>
    private static Proc? ReadProc(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            string comm = stat[(stat.IndexOf('(', StringComparison.Ordinal) + 1)..stat.LastIndexOf(')')];

            // Fields after "(comm) ": state is field 3 of proc(5), so index 0 here is field 3.
            string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            long Field(int n) => long.Parse(f[n - 3], CultureInfo.InvariantCulture);
            double hz = 100; // USER_HZ: 100 on every Linux architecture .NET runs on.
            var status = File.ReadAllLines($"/proc/{pid}/status")
                .Select(l => l.Split(':', 2))
                .Where(kv => kv.Length == 2)
                .GroupBy(kv => kv[0], StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.First()[1].Trim(), StringComparer.Ordinal);
            int nsPid = int.Parse(status["NSpid"].Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries)[^1], CultureInfo.InvariantCulture);
            int uid = int.Parse(status["Uid"].Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            int gid = int.Parse(status["Gid"].Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            byte[] cmdline = File.ReadAllBytes($"/proc/{pid}/cmdline");

            // psgo joins the NUL-separated arguments with spaces, the final NUL included.
            string args = cmdline.Length == 0 ? "[" + comm + "]" : Encoding.UTF8.GetString(cmdline).Replace('\0', ' ');
            return new Proc(pid, nsPid, (int)Field(4), uid, gid, comm, args, f[0][0], (int)Field(19), (int)Field(5), (int)Field(7),
                (Field(14) + Field(15)) / hz, Field(22) / hz);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or KeyNotFoundException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    private static Dictionary<int, string> IdNames(string file)
    {
        var names = new Dictionary<int, string>();
        try
        {
            foreach (string line in File.ReadLines(file))
            {
                string[] p = line.Split(':');
                if (p.Length > 2 && int.TryParse(p[2], NumberStyles.None, CultureInfo.InvariantCulture, out int id))
                {
                    names.TryAdd(id, p[0]);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return names;
    }

    /// <summary>
    /// Time since boot in nanoseconds, the clock of /proc/PID/stat's starttime. podman prints ELAPSED
    /// to the nanosecond; the monotonic clock (Stopwatch on Linux) has that resolution, /proc/uptime
    /// only centiseconds.
    /// </summary>
    private static long SinceBootNanoseconds() =>
        Stopwatch.Frequency == 1_000_000_000
            ? Stopwatch.GetTimestamp()
            : (long)(double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], CultureInfo.InvariantCulture) * 1e9);

    /// <summary>tty_nr (proc(5)): major 136-143 are /dev/pts/N; none is "?".</summary>
    private static string Tty(int ttyNr)
    {
        if (ttyNr == 0)
        {
            return "?";
        }

        int major = (ttyNr >> 8) & 0xfff;
        int minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
        return major is >= 136 and <= 143 ? $"pts/{((major - 136) * 256) + minor}" : major == 4 ? $"tty{minor}" : "?";
    }

    /// <summary>Go's time.Duration.String(): 0s, 1.5ms, 2.25s, 1m3.5s, 2h0m1s.</summary>
    public static string GoDuration(long ns)
    {
        if (ns == 0)
        {
            return "0s";
        }

        if (ns < 1_000_000_000)
        {
            (long unit, string suffix) = ns < 1_000 ? (1L, "ns") : ns < 1_000_000 ? (1_000L, "µs") : (1_000_000L, "ms");
            return Fraction(ns, unit) + suffix;
        }

        long h = ns / 3_600_000_000_000;
        long m = ns / 60_000_000_000 % 60;
        string s = Fraction(ns % 60_000_000_000, 1_000_000_000) + "s";
        return h > 0 ? $"{h}h{m}m{s}" : m > 0 ? $"{m}m{s}" : s;
    }

    private static string Fraction(long value, long unit)
    {
        string whole = (value / unit).ToString(CultureInfo.InvariantCulture);
        long rest = value % unit;
        if (rest == 0)
        {
            return whole;
        }

        int digits = (int)Math.Round(Math.Log10(unit));
        return whole + "." + rest.ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0').TrimEnd('0');
    }
}
