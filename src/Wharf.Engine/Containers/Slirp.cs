using System.Globalization;

namespace Wharf.Engine.Containers;

/// <summary>
/// Rootless networking as podman's default: the container gets a network namespace of its own and
/// slirp4netns gives it a tap device (10.0.2.100, gateway 10.0.2.2, DNS 10.0.2.3) with user-mode NAT
/// to the host's network, no privileges needed. slirp4netns must join the namespace after the runtime
/// made it and before the command runs: a createRuntime hook (runtime-spec config.md, "POSIX-platform
/// hooks") starts it and waits until it says it is ready.
/// </summary>
public static class Slirp
{
    public const string Mode = "slirp4netns";

    /// <summary>The DNS forwarder slirp4netns offers inside (its default 10.0.2.0/24 network).</summary>
    public const string Nameserver = "10.0.2.3";

    /// <summary>slirp4netns, or slirp4netns:OPTIONS (podman's form, e.g. <c>slirp4netns:allow_host_loopback=true</c>).</summary>
    public static bool Is(string network) =>
        network == Mode || network.StartsWith(Mode + ":", StringComparison.Ordinal);

    /// <summary>
    /// The slirp4netns flags for podman's options: allow_host_loopback=true lets 10.0.2.2 reach the
    /// host's loopback (off by default), mtu=N; anything else is refused.
    /// </summary>
    public static List<string> Flags(string network)
    {
        ArgumentNullException.ThrowIfNull(network);
        bool loopback = false;
        string mtu = "65520";
        if (network.Length > Mode.Length)
        {
            foreach (string option in network[(Mode.Length + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                string[] kv = option.Split('=', 2);
                switch (kv[0])
                {
                    case "allow_host_loopback" when kv.Length == 2 && kv[1] is "true" or "false":
                        loopback = kv[1] == "true";
                        break;
                    case "mtu" when kv.Length == 2 && int.TryParse(kv[1], NumberStyles.None, CultureInfo.InvariantCulture, out int m) && m is >= 68 and <= 65521:
                        mtu = kv[1];
                        break;
                    default:
                        throw new WharfException($"invalid slirp4netns option \"{option}\": supported are allow_host_loopback=true|false and mtu=N");
                }
            }
        }

        var flags = new List<string> { "--configure", "--mtu=" + mtu };
        if (!loopback)
        {
            flags.Add("--disable-host-loopback");
        }

        return flags;
    }

    /// <summary>An explicit slirp4netns network, refused with the reason when its options are unknown or slirp4netns cannot serve here.</summary>
    public static string Checked(string network)
    {
        Flags(network);
        return Unusable() is { } why ? throw new WharfException(why) : network;
    }

    public static string? Binary => RootfsMount.FindTool("slirp4netns");

    /// <summary>
    /// Why slirp4netns cannot serve here, or null: it must be installed, and the user must be able to
    /// open /dev/net/tun (0666 on Debian; some machines keep it 0600).
    /// </summary>
    public static string? Unusable()
    {
        if (Binary is null)
        {
            return "slirp4netns not found: install slirp4netns, or use --network host or none";
        }

        try
        {
            using var tun = new FileStream("/dev/net/tun", FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 1);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"slirp4netns needs /dev/net/tun, which this user cannot open ({e.Message}): an administrator makes it mode 0666, or use --network host or none";
        }
    }

    public static string PidFile(string dir) => Path.Combine(dir, "slirp4netns.pid");

    /// <summary>The hook that starts slirp4netns for the container whose state the runtime writes to its stdin.</summary>
    public static RuntimeHook Hook(string dir, string network, string? apiSocket = null)
    {
        string binary = Binary ?? throw new WharfException(Unusable()!);
        string Q(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        string ready = Path.Combine(dir, "slirp4netns.ready");

        // The background slirp4netns inherits no pipe of the runtime's (its output goes to a log), so the
        // runtime does not wait for it; the hook itself returns once slirp4netns wrote its ready byte
        // (or exited, closing the FIFO), at most 10 seconds.
        string script = $"""
            pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
            [ -n "$pid" ] || exit 1
            rm -f {Q(ready)}; mkfifo {Q(ready)} || exit 1
            {(apiSocket is null ? string.Empty : "rm -f " + Q(apiSocket))}
            {Q(binary)} {string.Join(' ', Flags(network))}{(apiSocket is null ? string.Empty : " --api-socket " + Q(apiSocket))} --ready-fd=3 "$pid" tap0 3>{Q(ready)} </dev/null >>{Q(Path.Combine(dir, "slirp4netns.log"))} 2>&1 &
            echo $! > {Q(PidFile(dir))}
            timeout 10 head -c1 {Q(ready)} >/dev/null
            rm -f {Q(ready)}
            kill -0 $! 2>/dev/null
            """;
        return new RuntimeHook("createRuntime", "/bin/sh", ["sh", "-c", script], ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], 15);
    }

    /// <summary>Ends the container's slirp4netns, if it has one running.</summary>
    public static void Stop(string dir)
    {
        string file = PidFile(dir);
        try
        {
            if (int.TryParse(File.ReadAllText(file).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                && File.Exists($"/proc/{pid}/cmdline") && File.ReadAllText($"/proc/{pid}/cmdline").Contains("slirp4netns", StringComparison.Ordinal))
            {
                ContainerNative.Kill(pid, 15);
            }

            File.Delete(file);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The shell line a detached container's monitor runs when it ends.</summary>
    public static string StopCommand(string dir) =>
        $"kill $(cat '{PidFile(dir).Replace("'", "'\\''", StringComparison.Ordinal)}' 2>/dev/null) 2>/dev/null";
}
