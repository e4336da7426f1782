using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Wharf.Testing;

/// <summary>
/// Processes a fixture started that are not its children (daemons that fork away: slapd, munged,
/// slurmctld, slurmd, a browser driver), remembered by PID so that they are killed when the
/// test host exits, even when the fixture's Dispose never ran (a constructor that threw half-way,
/// a run cancelled before its fixtures were torn down). A fixture tracks each daemon once it
/// knows its PID and forgets it once it stopped it itself. Each PID is kept with its start time
/// (/proc/PID/stat), so a PID the kernel has since given to another process is never signalled.
/// </summary>
public static class Daemons
{
    private static readonly ConcurrentDictionary<int, (string Name, ulong StartTime)> _tracked = new();

    static Daemons()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
    }

    /// <summary>Remembers <paramref name="pid"/> (what <paramref name="name"/> runs as) until <see cref="Forget"/>.</summary>
    public static void Track(string name, int pid)
    {
        if (StartTime(pid) is { } started)
        {
            _tracked[pid] = (name, started);
        }
    }

    public static void Forget(int pid) => _tracked.TryRemove(pid, out _);

    /// <summary>The PIDs still tracked (for tests of the fixtures themselves).</summary>
    public static IReadOnlyCollection<int> Tracked => [.. _tracked.Keys];

    /// <summary>Kills every tracked daemon that is still the process it was, with its children; then forgets them.</summary>
    public static void KillAll()
    {
        foreach (var (pid, (_, started)) in _tracked.ToArray())
        {
            Kill(pid, started);
            _tracked.TryRemove(pid, out _);
        }
    }

    /// <summary>Kills <paramref name="pid"/> and its children if it is still the process that started at <paramref name="started"/>.</summary>
    private static void Kill(int pid, ulong started)
    {
        if (StartTime(pid) != started)
        {
            return;
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5_000);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Gone in between.
        }
    }

    /// <summary>Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot.</summary>
    public static ulong? StartTime(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return fields.Length > 19 && ulong.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out ulong t) ? t : null;
    }

    /// <summary>PIDs of the live processes whose command line contains <paramref name="text"/> (a test's private directory, say).</summary>
    public static IReadOnlyList<int> WithCommandLine(string text)
    {
        var found = new List<int>();
        foreach (string dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            try
            {
                string cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                string state = File.ReadAllText(Path.Combine(dir, "stat"));
                bool zombie = state[(state.LastIndexOf(')') + 2)..].StartsWith('Z');
                if (!zombie && cmdline.Contains(text, StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Exited while we looked.
            }
        }

        return found;
    }
}
