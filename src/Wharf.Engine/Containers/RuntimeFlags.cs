using System.Globalization;
using System.Text.Json.Nodes;

namespace Wharf.Engine.Containers;

/// <summary>
/// The run/create flags that change only the runtime spec: capabilities, a read-only rootfs, tmpfs
/// mounts, no-new-privileges, /dev/shm's size and the host's PID or IPC namespace. Checked once by
/// <see cref="Validate"/> at create, recorded with the container, applied by <see cref="Apply"/> at start.
/// </summary>
public sealed record RuntimeFlags
{
    /// <summary>Every capability, in kernel order (linux/capability.h); ALL means those up to cap_last_cap.</summary>
    private static readonly string[] AllCapabilities =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
        "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];

    /// <summary>What podman mounts on a read-only rootfs unless --read-only-tmpfs=false.</summary>
    private static readonly string[] ReadOnlyTmpfsPaths = ["/run", "/tmp", "/var/tmp"];

    public List<string> CapAdd { get; init; } = [];

    public List<string> CapDrop { get; init; } = [];

    public bool ReadOnly { get; init; }

    public bool ReadOnlyTmpfs { get; init; } = true;

    /// <summary><c>--tmpfs PATH[:OPTIONS]</c>.</summary>
    public List<string> Tmpfs { get; init; } = [];

    /// <summary><c>--security-opt</c> values.</summary>
    public List<string> SecurityOpts { get; init; } = [];

    /// <summary><c>--shm-size</c>: null for podman's 64 MB.</summary>
    public string? ShmSize { get; init; }

    /// <summary><c>--pid</c>: empty or private, or host.</summary>
    public string Pid { get; init; } = string.Empty;

    /// <summary><c>--ipc</c>: empty or private, or host.</summary>
    public string Ipc { get; init; } = string.Empty;

    /// <summary><c>--group-add</c>: group names (from the image's /etc/group) or GIDs added to the process.</summary>
    public List<string> GroupAdd { get; init; } = [];

    /// <summary><c>--tz</c>: <c>local</c> or a zone name; becomes the container's /etc/localtime.</summary>
    public string? Tz { get; init; }

    /// <summary><c>--init</c>: catatonit, bound at /run/podman-init, runs as PID 1 and the command as its child.</summary>
    public bool Init { get; init; }

    /// <summary><c>--privileged</c>: every capability, the host's devices, no masked or read-only paths.</summary>
    public bool Privileged { get; init; }

    /// <summary><c>--timeout</c>: seconds after which the container is killed (0: never).</summary>
    public uint Timeout { get; init; }

    /// <summary><c>--restart</c>: no (empty), on-failure, always or unless-stopped.</summary>
    public string Restart { get; init; } = string.Empty;

    /// <summary><c>on-failure:N</c>'s N; 0: no limit.</summary>
    public int RestartRetries { get; init; }

    /// <summary><c>--log-driver</c>: k8s-file (json-file is the same in podman 4.3), none or passthrough.</summary>
    public string LogDriver { get; init; } = "k8s-file";

    /// <summary><c>--log-opt path=</c>: the log file instead of ctr.log in the container's directory.</summary>
    public string? LogPath { get; init; }

    /// <summary><c>--log-opt max-size=</c>: when the log would grow past it, it starts again empty (conmon's way); 0: no limit.</summary>
    public long LogSizeMax { get; init; }

    /// <summary>
    /// podman's <c>--log-opt</c>s: <c>path=</c> and <c>max-size=</c> act; other <c>key=value</c>s
    /// (tag=…) are accepted and have no effect, as podman records them without use for k8s-file.
    /// </summary>
    public static (string? Path, long SizeMax) ParseLogOpts(IEnumerable<string> opts)
    {
        ArgumentNullException.ThrowIfNull(opts);
        string? path = null;
        long max = 0;
        foreach (string opt in opts)
        {
            string[] kv = opt.Split('=', 2);
            if (kv.Length < 2)
            {
                throw new WharfException($"invalid log option \"{opt}\"");
            }

            switch (kv[0])
            {
                case "path":
                    path = System.IO.Path.GetFullPath(kv[1]);
                    break;
                case "max-size":
                    max = HumanSize(kv[1]);
                    break;
            }
        }

        return (path, max);
    }

    /// <summary>go-units' FromHumanSize: a decimal number with an optional k, m, g, t or p (1000-based), i and b.</summary>
    private static long HumanSize(string value)
    {
        var m = System.Text.RegularExpressions.Regex.Match(value, @"^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$");
        if (!m.Success)
        {
            throw new WharfException($"invalid size: '{value}'");
        }

        double n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        int power = m.Groups[2].Success ? "kmgtp".IndexOf(char.ToLowerInvariant(m.Groups[2].Value[0]), StringComparison.Ordinal) + 1 : 0;
        return (long)(n * Math.Pow(1000, power));
    }

    /// <summary>podman's log drivers; json-file is recorded as k8s-file, which podman 4.3 writes for it.</summary>
    public static string ParseLogDriver(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value switch
        {
            "" or "k8s-file" => "k8s-file",
            "json-file" => "json-file",
            "none" or "passthrough" => value,
            "journald" => throw new WharfException("--log-driver journald is not supported by wharf"),
            _ => throw new WharfException("running container create option: invalid log driver: invalid argument"),
        };
    }

    /// <summary>podman's policies: <c>no</c>, <c>on-failure[:N]</c>, <c>always</c>, <c>unless-stopped</c> (as always).</summary>
    public static (string Policy, int Retries) ParseRestart(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        string[] parts = value.Split(':', 2);
        string policy = parts[0];
        if (policy is not ("" or "no" or "on-failure" or "always" or "unless-stopped"))
        {
            throw new WharfException($"running container create option: \"{value}\" is not a valid restart policy: invalid argument");
        }

        int retries = 0;
        if (parts.Length == 2)
        {
            if (policy != "on-failure")
            {
                throw new WharfException("restart policy retries can only be specified with on-failure restart policy: invalid argument");
            }

            if (!int.TryParse(parts[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out retries))
            {
                throw new WharfException($"parsing restart policy retry count: strconv.Atoi: parsing \"{parts[1]}\": invalid syntax");
            }

            if (retries < 0)
            {
                throw new WharfException("must specify restart policy retry count as a number greater than 0");
            }
        }

        return (policy == "no" ? string.Empty : policy, retries);
    }

    /// <summary>Where podman finds catatonit (containers.conf init_path), then the distribution's own.</summary>
    private static readonly string[] InitPaths = ["/usr/libexec/podman/catatonit", "/usr/bin/catatonit", "/usr/local/libexec/podman/catatonit"];

    /// <summary>The catatonit binary for <c>--init</c>.</summary>
    public static string InitBinary() =>
        InitPaths.FirstOrDefault(File.Exists) is { } path
            ? Path.GetFullPath(path)
            : throw new WharfException("--init needs catatonit, which is not installed (looked in /usr/libexec/podman and /usr/bin): install catatonit");

    /// <summary>Bad values fail here, before anything is created.</summary>
    public void Validate()
    {
        _ = Capabilities();
        if (Init)
        {
            _ = InitBinary();
        }

        foreach (string t in Tmpfs)
        {
            if (!t.StartsWith('/'))
            {
                throw new WharfException($"invalid --tmpfs \"{t}\": the path must be absolute");
            }
        }

        foreach (string o in SecurityOpts)
        {
            if (o is not ("no-new-privileges" or "no-new-privileges=true" or "no-new-privileges=false" or "label=disable"
                or "seccomp=unconfined" or "apparmor=unconfined"))
            {
                // Without a seccomp profile or an LSM of its own, wharf has nothing to load another one into.
                throw new WharfException($"--security-opt {o} is not supported by wharf: use no-new-privileges, label=disable, seccomp=unconfined or apparmor=unconfined");
            }
        }

        if (ShmSize is { } shm)
        {
            _ = Bytes(shm, "--shm-size");
        }

        if (Tz is not null)
        {
            _ = TimezoneFile();
        }

        if (GroupAdd.FirstOrDefault(g => g == "keep-groups") is { } keep)
        {
            throw new WharfException($"--group-add {keep} is not supported by wharf");
        }

        foreach (var (flag, value) in new[] { ("--pid", Pid), ("--ipc", Ipc) })
        {
            if (value is not ("" or "private" or "host"))
            {
                throw new WharfException($"{flag} {value} is not supported by wharf: use host or private");
            }
        }
    }

    /// <summary>podman's merge: drop ALL starts from nothing, add ALL gives everything, else the defaults plus adds minus drops.</summary>
    public List<string> Capabilities()
    {
        var add = CapAdd.Select(Normalize).ToList();
        var drop = CapDrop.Select(Normalize).ToList();
        if (add.Intersect(drop).FirstOrDefault(c => c != "ALL") is { } both)
        {
            throw new WharfException($"capability \"{both}\" cannot be dropped and added");
        }

        // ALL is what wharf itself may give: the capabilities of its bounding set (as podman's
        // --privileged), so a host (or an outer container) that dropped one does not fail the start.
        ulong bounding = BoundingSet();
        var all = AllCapabilities.Take(LastCap() + 1).Where((_, bit) => (bounding & (1UL << bit)) != 0).ToList();
        IEnumerable<string> caps = drop.Contains("ALL") ? [] : RuntimeSpec.Capabilities;
        caps = add.Contains("ALL") || Privileged ? all : caps.Concat(add);
        return [.. caps.Except(drop).Distinct()];
    }

    public void Apply(JsonObject spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var process = spec["process"]!.AsObject();
        if (CapAdd.Count > 0 || CapDrop.Count > 0 || Privileged)
        {
            var caps = new JsonArray([.. Capabilities().Select(c => (JsonNode?)c)]);
            process["capabilities"] = new JsonObject
            {
                ["bounding"] = caps.DeepClone(),
                ["effective"] = caps.DeepClone(),
                ["permitted"] = caps.DeepClone(),
            };
        }

        if (SecurityOpts.Any(o => o is "no-new-privileges" or "no-new-privileges=true"))
        {
            process["noNewPrivileges"] = true;
        }

        var mounts = spec["mounts"]!.AsArray();
        if (ShmSize is { } shm && mounts.FirstOrDefault(m => (string?)m!["destination"] == "/dev/shm") is JsonObject devShm)
        {
            var options = devShm["options"]!.AsArray();
            options.Remove(options.First(o => ((string?)o)!.StartsWith("size=", StringComparison.Ordinal)));
            options.Add((JsonNode)JsonValue.Create("size=" + Bytes(shm, "--shm-size").ToString(CultureInfo.InvariantCulture)));
        }

        // After the standard mounts (/proc ... /sys), before the files wharf binds into /run and /etc.
        int at = mounts.Count(m => ((string?)m!["destination"])!.StartsWith("/dev", StringComparison.Ordinal) || (string?)m["destination"] is "/proc" or "/sys" or "/sys/fs/cgroup");
        var tmpfs = new List<JsonObject>();
        if (ReadOnly)
        {
            spec["root"]!["readonly"] = true;
            if (ReadOnlyTmpfs)
            {
                tmpfs.AddRange(ReadOnlyTmpfsPaths.Select(p => TmpfsMount(p, ["rw", "rprivate", "nosuid", "nodev"])));
            }
        }

        foreach (string t in Tmpfs)
        {
            string[] parts = t.Split(':', 2);
            tmpfs.RemoveAll(m => (string?)m["destination"] == parts[0]);
            tmpfs.Add(TmpfsMount(parts[0], parts.Length > 1 ? parts[1].Split(',') : ["rw", "noexec", "nosuid", "nodev"]));
        }

        foreach (var m in tmpfs)
        {
            mounts.Insert(at++, m);
        }

        if (Tz is not null)
        {
            mounts.Add((JsonNode)new JsonObject
            {
                ["destination"] = "/etc/localtime",
                ["type"] = "bind",
                ["source"] = TimezoneFile(),
                ["options"] = new JsonArray("bind", "ro", "rprivate"),
            });
        }

        if (GroupAdd.Count > 0)
        {
            var user = process["user"]!.AsObject();
            var gids = user["additionalGids"] as JsonArray ?? [];
            foreach (uint gid in GroupAdd.Select(g => Gid((string)spec["root"]!["path"]!, g)))
            {
                if (!gids.Any(x => x!.GetValue<uint>() == gid))
                {
                    gids.Add((JsonNode)JsonValue.Create(gid));
                }
            }

            user["additionalGids"] = gids;
        }

        if (Init)
        {
            // podman's --init: catatonit reaps zombies and passes signals on to the command.
            mounts.Add((JsonNode)new JsonObject
            {
                ["destination"] = "/run/podman-init",
                ["type"] = "bind",
                ["source"] = InitBinary(),
                ["options"] = new JsonArray("bind", "ro", "rprivate"),
            });
            var args = process["args"]!.AsArray();
            args.Insert(0, "--");
            args.Insert(0, "/run/podman-init");
        }

        if (Privileged)
        {
            PrivilegedSpec.Apply(spec);
        }

        var namespaces = spec["linux"]!["namespaces"]!.AsArray();
        // --ipc host is applied by RuntimeSpec through the container's settings (with the host's
        // /dev/shm and /dev/mqueue bound), the same path a job's tasks take.
        if (Pid == "host" && namespaces.FirstOrDefault(n => (string?)n!["type"] == "pid") is { } ns)
        {
            namespaces.Remove(ns);
        }
    }

    /// <summary>Where this container gets a tmpfs.</summary>
    public IEnumerable<string> MountDestinations() =>
        (ReadOnly && ReadOnlyTmpfs ? ReadOnlyTmpfsPaths : []).Concat(Tmpfs.Select(t => t.Split(':', 2)[0]));

    /// <summary>The host file that becomes /etc/localtime: the host's own for <c>local</c>, else the zone's.</summary>
    private string TimezoneFile()
    {
        string path = Tz == "local" ? "/etc/localtime" : Path.Combine("/usr/share/zoneinfo", Tz!);
        bool valid = Tz == "local" || (!Tz!.Contains("..", StringComparison.Ordinal) && !Tz.StartsWith('/'));
        return valid && File.Exists(path) ? Path.GetFullPath(path) : throw new WharfException($"finding timezone: unknown time zone {Tz}");
    }

    /// <summary>A GID, or a group name looked up in the container's /etc/group.</summary>
    private static uint Gid(string rootfs, string group)
    {
        if (uint.TryParse(group, NumberStyles.None, CultureInfo.InvariantCulture, out uint gid))
        {
            return gid;
        }

        string file = RootfsPaths.Resolve(rootfs, "/etc/group");
        foreach (string line in File.Exists(file) ? File.ReadLines(file) : [])
        {
            string[] f = line.Split(':');
            if (f.Length > 2 && f[0] == group && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out gid))
            {
                return gid;
            }
        }

        throw new WharfException($"unable to find group {group}: no matching entries in group file");
    }

    private static string Normalize(string cap)
    {
        string c = cap.ToUpperInvariant();
        if (c == "ALL")
        {
            return c;
        }

        c = c.StartsWith("CAP_", StringComparison.Ordinal) ? c : "CAP_" + c;
        return AllCapabilities.Contains(c) ? c : throw new WharfException($"unknown capability \"{cap}\"");
    }

    private static ulong BoundingSet()
    {
        string? line = File.Exists("/proc/self/status") ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("CapBnd:", StringComparison.Ordinal)) : null;
        return line is not null && ulong.TryParse(line["CapBnd:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong set) ? set : ulong.MaxValue;
    }

    private static int LastCap() =>
        int.TryParse(File.Exists("/proc/sys/kernel/cap_last_cap") ? File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim() : null, CultureInfo.InvariantCulture, out int n)
            ? Math.Min(n, AllCapabilities.Length - 1)
            : AllCapabilities.Length - 1;

    private static JsonObject TmpfsMount(string destination, string[] options) => new()
    {
        ["destination"] = destination,
        ["type"] = "tmpfs",
        ["source"] = "tmpfs",
        ["options"] = new JsonArray([.. options.Select(o => (JsonNode?)o)]),
    };

    /// <summary>podman's sizes: a number with an optional b, k, m or g (1024-based).</summary>
    private static long Bytes(string value, string flag)
    {
        string v = value.Trim().ToLowerInvariant();
        long unit = 1;
        if (v.Length > 0 && char.IsLetter(v[^1]))
        {
            unit = v[^1] switch
            {
                'b' => 1,
                'k' => 1L << 10,
                'm' => 1L << 20,
                'g' => 1L << 30,
                _ => 0,
            };
            v = v[..^1];
        }

        return unit > 0 && long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n > 0
            ? n * unit
            : throw new WharfException($"invalid {flag} \"{value}\": a size is a number with an optional unit b, k, m or g");
    }
}
