using System.Globalization;
using System.Text.Json.Nodes;

namespace Wharf.Engine.Containers;

/// <summary>A device node for linux.devices, with its cgroup allow rule.</summary>
public sealed record DeviceNode(string ContainerPath, string HostPath, string Type, long Major, long Minor, uint FileMode, uint Uid, uint Gid, string Permissions);

/// <summary>A hook for the runtime spec's hooks section.</summary>
public sealed record RuntimeHook(string Stage, string Path, IReadOnlyList<string> Args, IReadOnlyList<string> Env, int? Timeout);

/// <summary>What devices add to a container: from <c>--device /dev/x</c> or a CDI spec.</summary>
public sealed record DeviceEdits
{
    public List<string> Env { get; } = [];

    public List<DeviceNode> Nodes { get; } = [];

    public List<(string Source, string Destination, string Type, List<string> Options)> Mounts { get; } = [];

    public List<RuntimeHook> Hooks { get; } = [];
}

/// <summary>
/// Builds the OCI runtime configuration (runtime-spec config.md, config-linux.md) the way podman
/// fills it for a root container: its capability set, namespaces, standard mounts, masked paths.
/// </summary>
public static class RuntimeSpec
{
    /// <summary>podman's default capabilities (containers.conf default_capabilities).</summary>
    public static readonly string[] Capabilities =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
        "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
    ];

    private static readonly string[] MaskedPaths =
    [
        "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
        "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/fs/selinux", "/sys/dev/block",
    ];

    private static readonly string[] ReadonlyPaths =
    [
        "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
    ];

    public sealed record Input
    {
        public required ContainerRecord Container { get; init; }

        public required string Rootfs { get; init; }

        public required string UserData { get; init; }

        public required IReadOnlyList<string> Args { get; init; }

        public required IReadOnlyList<string> Env { get; init; }

        public required string Cwd { get; init; }

        public required uint Uid { get; init; }

        public required uint Gid { get; init; }

        public IReadOnlyList<uint> AdditionalGids { get; init; } = [];

        public required string Hostname { get; init; }

        public bool Terminal { get; init; }

        public bool ResolvConf { get; init; }

        public DeviceEdits Devices { get; init; } = new();

        /// <summary>Files of wharf's own bound over the image's (keep-id's /etc/passwd).</summary>
        public IReadOnlyList<(string Source, string Destination)> Binds { get; init; } = [];

        /// <summary>A user namespace of the container's own with these mappings (keep-id); null: the runtime's namespace.</summary>
        public IReadOnlyList<Rootless.IdMapping>? UidMappings { get; init; }

        public IReadOnlyList<Rootless.IdMapping>? GidMappings { get; init; }

        /// <summary>The runtime can create the container's cgroup with limits (root, or a delegated cgroup v2).</summary>
        public bool CgroupLimits { get; init; }

        /// <summary>How many group IDs the runtime's namespace maps; null when all are (as root on the host).</summary>
        public uint? MappedGids { get; init; }
    }

    public static JsonObject Build(Input input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var c = input.Container;
        var caps = new JsonArray([.. Capabilities.Select(x => (JsonNode?)x)]);
        var env = input.Env.Concat(input.Devices.Env).ToList();
        var user = new JsonObject { ["uid"] = input.Uid, ["gid"] = input.Gid, ["umask"] = 18 };
        // A user without subordinate ranges has only their own ID mapped: groups beyond it cannot be set.
        var groups = input.AdditionalGids.Where(g => input.MappedGids is not { } n || g < n).ToList();
        if (groups.Count > 0)
        {
            user["additionalGids"] = new JsonArray([.. groups.Select(g => (JsonNode?)g)]);
        }

        string[] devpts = input.MappedGids is { } mapped && mapped <= 5
            ? ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
            : ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"];

        var mounts = new JsonArray
        {
            Mount("/proc", "proc", "proc", "nosuid", "noexec", "nodev"),
            Mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
            Mount("/dev/pts", "devpts", "devpts", devpts),
            Mount("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
            Mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536000"),
            c.Settings.Network == "host"
                ? Mount("/sys", "bind", "/sys", "rbind", "nosuid", "noexec", "nodev", "ro")
                : Mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"),

            // podman's: the container's own cgroup (memory.max, pids.max...) read-only at /sys/fs/cgroup.
            Mount("/sys/fs/cgroup", "cgroup", "cgroup", "rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"),
        };
        foreach (string managed in c.ManagedMounts)
        {
            string source = Path.Combine(input.UserData, Path.GetFileName(managed));
            mounts.Add(Mount(managed, "bind", source, "bind", "rprivate"));
        }

        foreach (var (source, destination) in input.Binds)
        {
            mounts.Add(Mount(destination, "bind", source, "bind", "rprivate"));
        }

        foreach (var m in c.Mounts)
        {
            mounts.Add(Mount(m.Destination, "bind", m.Source, m.ReadOnly ? "ro" : "rw", m.Propagation ?? "rprivate", "rbind"));
        }

        foreach (var (source, destination, type, options) in input.Devices.Mounts)
        {
            mounts.Add(Mount(destination, type, source, [.. options]));
        }

        var namespaces = new JsonArray
        {
            (JsonNode)new JsonObject { ["type"] = "pid" },
            (JsonNode)new JsonObject { ["type"] = "ipc" },
            (JsonNode)new JsonObject { ["type"] = "uts" },
            (JsonNode)new JsonObject { ["type"] = "mount" },
        };
        if (c.Settings.Ipc == "host")
        {
            // The host's IPC namespace (--ipc host): its message queues and shared memory are bound,
            // as podman does (a namespace the container does not own cannot mount mqueue afresh,
            // and tasks sharing memory meet in the host's /dev/shm).
            namespaces.RemoveAt(1);
            // A host without them mounted gives the container none.
            for (int i = mounts.Count - 1; i >= 0; i--)
            {
                if ((string?)mounts[i]!["destination"] is { } d && d is "/dev/mqueue" or "/dev/shm")
                {
                    if (Directory.Exists(d))
                    {
                        mounts[i] = Mount(d, "bind", d, "rbind", "nosuid", "noexec", "nodev");
                    }
                    else
                    {
                        mounts.RemoveAt(i);
                    }
                }
            }
        }

        if (c.Settings.Network != "host")
        {
            namespaces.Add((JsonNode)new JsonObject { ["type"] = "network" });
        }

        if (input.UidMappings is not null)
        {
            namespaces.Add((JsonNode)new JsonObject { ["type"] = "user" });
        }

        var devices = new JsonArray();
        var allow = new JsonArray { (JsonNode)new JsonObject { ["allow"] = false, ["access"] = "rwm" } };
        foreach (var d in input.Devices.Nodes)
        {
            devices.Add((JsonNode)new JsonObject
            {
                ["path"] = d.ContainerPath,
                ["type"] = d.Type,
                ["major"] = d.Major,
                ["minor"] = d.Minor,
                ["fileMode"] = d.FileMode,
                ["uid"] = d.Uid,
                ["gid"] = d.Gid,
            });
            allow.Add((JsonNode)new JsonObject { ["allow"] = true, ["type"] = d.Type, ["major"] = d.Major, ["minor"] = d.Minor, ["access"] = d.Permissions });
        }

        var resources = new JsonObject { ["devices"] = allow };
        if (input.CgroupLimits)
        {
            c.Resources.Apply(resources, ResourceLimits.SwapAccounting());
        }

        var linux = new JsonObject
        {
            ["namespaces"] = namespaces,
            ["resources"] = resources,
            ["maskedPaths"] = new JsonArray([.. MaskedPaths.Select(x => (JsonNode?)x)]),
            ["readonlyPaths"] = new JsonArray([.. ReadonlyPaths.Select(x => (JsonNode?)x)]),
        };
        if (devices.Count > 0)
        {
            linux["devices"] = devices;
        }

        if (input.UidMappings is { } uids && input.GidMappings is { } gids)
        {
            linux["uidMappings"] = Mappings(uids);
            linux["gidMappings"] = Mappings(gids);
        }

        var spec = new JsonObject
        {
            ["ociVersion"] = "1.0.2",
            ["process"] = new JsonObject
            {
                ["terminal"] = input.Terminal,
                ["user"] = user,
                ["args"] = new JsonArray([.. input.Args.Select(x => (JsonNode?)x)]),
                ["env"] = new JsonArray([.. env.Select(x => (JsonNode?)x)]),
                ["cwd"] = input.Cwd,
                ["capabilities"] = new JsonObject
                {
                    ["bounding"] = caps.DeepClone(),
                    ["effective"] = caps.DeepClone(),
                    ["permitted"] = caps.DeepClone(),
                },
                ["rlimits"] = Rlimits(c.Settings.Ulimits),
            },
            ["root"] = new JsonObject { ["path"] = input.Rootfs, ["readonly"] = false },
            ["hostname"] = input.Hostname,
            ["mounts"] = mounts,
            ["annotations"] = new JsonObject { ["io.container.manager"] = "wharf" },
            ["linux"] = linux,
        };

        if (input.Devices.Hooks.Count > 0)
        {
            var hooks = new JsonObject();
            foreach (var group in input.Devices.Hooks.GroupBy(h => h.Stage))
            {
                var list = new JsonArray();
                foreach (var h in group)
                {
                    var hook = new JsonObject { ["path"] = h.Path };
                    if (h.Args.Count > 0)
                    {
                        hook["args"] = new JsonArray([.. h.Args.Select(x => (JsonNode?)x)]);
                    }

                    if (h.Env.Count > 0)
                    {
                        hook["env"] = new JsonArray([.. h.Env.Select(x => (JsonNode?)x)]);
                    }

                    if (h.Timeout is { } t)
                    {
                        hook["timeout"] = t;
                    }

                    list.Add((JsonNode)hook);
                }

                hooks[group.Key] = list;
            }

            spec["hooks"] = hooks;
        }

        c.RuntimeFlags.Apply(spec);
        return spec;
    }

    private static JsonArray Mappings(IReadOnlyList<Rootless.IdMapping> map) =>
        new([.. map.Select(m => (JsonNode?)new JsonObject { ["containerID"] = m.ContainerId, ["hostID"] = m.HostId, ["size"] = m.Size })]);

    // JsonNode, not JsonObject: JsonArray.Add(JsonNode) is the trimming-safe overload, Add<T> is not.
    private static JsonNode Mount(string destination, string type, string source, params string[] options) => new JsonObject
    {
        ["destination"] = destination,
        ["type"] = type,
        ["source"] = source,
        ["options"] = new JsonArray([.. options.Select(x => (JsonNode?)x)]),
    };

    /// <summary>
    /// RLIMIT_NOFILE and RLIMIT_NPROC default to this host's hard limits (podman asks for 1048576
    /// and fails where the host allows less); <c>--ulimit</c> values are clamped to the host's hard limits.
    /// </summary>
    public static JsonArray Rlimits(IReadOnlyList<string> ulimits)
    {
        ArgumentNullException.ThrowIfNull(ulimits);
        var limits = new Dictionary<string, (ulong Soft, ulong Hard)>(StringComparer.Ordinal);
        var (_, nofileHard) = ContainerNative.HostLimit(ContainerNative.RLIMIT_NOFILE);
        var (_, nprocHard) = ContainerNative.HostLimit(ContainerNative.RLIMIT_NPROC);
        limits["RLIMIT_NOFILE"] = (nofileHard, nofileHard);
        limits["RLIMIT_NPROC"] = (nprocHard, nprocHard);
        foreach (string u in ulimits)
        {
            var (type, soft, hard) = ParseUlimit(u);
            ulong hostHard = HostHard(type);
            limits[type] = (Math.Min(soft, hostHard), Math.Min(hard, hostHard));
        }

        var result = new JsonArray();
        foreach (var (type, (soft, hard)) in limits)
        {
            result.Add((JsonNode)new JsonObject { ["type"] = type, ["hard"] = hard, ["soft"] = Math.Min(soft, hard) });
        }

        return result;
    }

    private static readonly Dictionary<string, (string Type, int Resource)> UlimitNames = new(StringComparer.Ordinal)
    {
        ["core"] = ("RLIMIT_CORE", 4),
        ["cpu"] = ("RLIMIT_CPU", 0),
        ["data"] = ("RLIMIT_DATA", 2),
        ["fsize"] = ("RLIMIT_FSIZE", 1),
        ["locks"] = ("RLIMIT_LOCKS", 10),
        ["memlock"] = ("RLIMIT_MEMLOCK", 8),
        ["msgqueue"] = ("RLIMIT_MSGQUEUE", 12),
        ["nice"] = ("RLIMIT_NICE", 13),
        ["nofile"] = ("RLIMIT_NOFILE", 7),
        ["nproc"] = ("RLIMIT_NPROC", 6),
        ["rss"] = ("RLIMIT_RSS", 5),
        ["rtprio"] = ("RLIMIT_RTPRIO", 14),
        ["rttime"] = ("RLIMIT_RTTIME", 15),
        ["sigpending"] = ("RLIMIT_SIGPENDING", 11),
        ["stack"] = ("RLIMIT_STACK", 3),
    };

    private static ulong HostHard(string type) =>
        ContainerNative.HostLimit(UlimitNames.Values.First(v => v.Type == type).Resource).Hard;

    /// <summary><c>name=soft[:hard]</c>, -1 meaning unlimited, as podman's --ulimit.</summary>
    public static (string Type, ulong Soft, ulong Hard) ParseUlimit(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        int eq = value.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || !UlimitNames.TryGetValue(value[..eq], out var name))
        {
            throw new WharfException($"invalid ulimit argument: {value}");
        }

        string[] parts = value[(eq + 1)..].Split(':');
        if (parts.Length > 2 || !TryLimit(parts[0], out ulong soft) || !TryLimit(parts[^1], out ulong hard))
        {
            throw new WharfException($"invalid ulimit argument: {value}");
        }

        if (soft > hard)
        {
            throw new WharfException($"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}");
        }

        return (name.Type, soft, hard);
    }

    private static bool TryLimit(string s, out ulong value)
    {
        if (s == "-1")
        {
            value = ulong.MaxValue;
            return true;
        }

        return ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
