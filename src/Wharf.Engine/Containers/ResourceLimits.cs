using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Wharf.Engine.Containers;

/// <summary>The resource flags of run/create as typed (null: not given).</summary>
public sealed record ResourceRequest
{
    public string? Memory { get; init; }

    public string? MemorySwap { get; init; }

    public string? MemoryReservation { get; init; }

    public string? Cpus { get; init; }

    public string? CpuShares { get; init; }

    public string? CpuQuota { get; init; }

    public string? CpuPeriod { get; init; }

    public string? CpusetCpus { get; init; }

    public string? CpusetMems { get; init; }

    public string? PidsLimit { get; init; }
}

/// <summary>
/// cgroup limits (runtime-spec config-linux.md "Control groups": linux.resources memory, cpu, pids)
/// parsed once from <c>--memory</c>, <c>--cpus</c>, <c>--cpu-shares</c>, <c>--pids-limit</c>... with
/// podman's rules and messages. The runtime creates the container's cgroup under the caller's own
/// (no cgroupsPath), so a container in a Slurm job stays inside the job's limits.
/// </summary>
public sealed partial record ResourceLimits
{
    /// <summary>podman's --cpus: a period of 100 ms with a quota of cpus × period.</summary>
    private const long DefaultCpuPeriod = 100_000;

    /// <summary>Bytes; 0: none.</summary>
    public long Memory { get; init; }

    /// <summary>Memory plus swap in bytes; -1: unlimited; 0: none.</summary>
    public long MemorySwap { get; init; }

    public long MemoryReservation { get; init; }

    public ulong CpuShares { get; init; }

    public long CpuQuota { get; init; }

    public ulong CpuPeriod { get; init; }

    public string CpusetCpus { get; init; } = string.Empty;

    public string CpusetMems { get; init; } = string.Empty;

    /// <summary>0: none; -1: unlimited.</summary>
    public long PidsLimit { get; init; }

    /// <summary>What podman's inspect shows: --cpus, or quota / period.</summary>
    public long NanoCpus => CpuQuota > 0 && CpuPeriod > 0 ? CpuQuota * 1_000_000_000 / (long)CpuPeriod : 0;

    public bool Any => Memory != 0 || MemorySwap != 0 || MemoryReservation != 0 || CpuShares != 0 || CpuQuota != 0
        || CpuPeriod != 0 || CpusetCpus.Length > 0 || CpusetMems.Length > 0 || PidsLimit != 0;

    /// <summary>Checks every value as podman does; bad input throws with podman's message.</summary>
    public static ResourceLimits Parse(ResourceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        long memory = request.Memory is { } m ? Size(m, "memory") : 0;
        long reservation = request.MemoryReservation is { } r ? Size(r, "memory reservation") : 0;
        long swap = request.MemorySwap switch
        {
            null => 0,
            "-1" => -1,
            var s => Size(s, "memory-swap"),
        };
        if (swap > 0 && memory > 0 && swap < memory)
        {
            throw new WharfException("minimum memoryswap limit should be larger than memory limit, see usage");
        }

        if (memory > 0 && reservation > memory)
        {
            throw new WharfException("minimum memory limit cannot be less than memory reservation limit, see usage");
        }

        if (swap == 0 && memory > 0)
        {
            // podman: without --memory-swap the container may swap as much again as its memory.
            swap = 2 * memory;
        }

        long quota = request.CpuQuota is { } q ? Integer(q, "--cpu-quota") : 0;
        ulong period = request.CpuPeriod is { } p ? (ulong)Unsigned(p, "--cpu-period") : 0;
        if (request.Cpus is { } cpus)
        {
            if (request.CpuQuota is not null)
            {
                throw new WharfException("--cpu-quota and --cpus cannot be set together");
            }

            if (request.CpuPeriod is not null)
            {
                throw new WharfException("--cpu-period and --cpus cannot be set together");
            }

            if (!double.TryParse(cpus, NumberStyles.Float, CultureInfo.InvariantCulture, out double n) || n < 0 || double.IsInfinity(n) || double.IsNaN(n))
            {
                throw new WharfException($"invalid argument \"{cpus}\" for \"--cpus\" flag: parsing \"{cpus}\": invalid syntax");
            }

            if (n > 0)
            {
                period = DefaultCpuPeriod;
                quota = (long)(n * DefaultCpuPeriod);
            }
        }

        return new ResourceLimits
        {
            Memory = memory,
            MemorySwap = swap,
            MemoryReservation = reservation,
            CpuShares = request.CpuShares is { } shares ? (ulong)Unsigned(shares, "-c, --cpu-shares") : 0,
            CpuQuota = quota,
            CpuPeriod = period,
            CpusetCpus = request.CpusetCpus is { } c ? Cpuset(c, "/sys/devices/system/cpu/online", "CPUs") : string.Empty,
            CpusetMems = request.CpusetMems is { } mems ? Cpuset(mems, "/sys/devices/system/node/online", "memory nodes") : string.Empty,
            PidsLimit = request.PidsLimit is { } pids ? Integer(pids, "--pids-limit") : 0,
        };
    }

    /// <summary>linux.resources without its devices list; null when nothing is limited.</summary>
    public void Apply(JsonObject resources, bool swapAccounting)
    {
        ArgumentNullException.ThrowIfNull(resources);
        if (Memory != 0 || MemoryReservation != 0 || MemorySwap != 0)
        {
            var memory = new JsonObject();
            if (Memory > 0)
            {
                memory["limit"] = Memory;
            }

            if (MemoryReservation > 0)
            {
                memory["reservation"] = MemoryReservation;
            }

            // Without swap accounting (no memory.memsw.* in cgroup v1) the runtime could not set it.
            if (MemorySwap != 0 && swapAccounting)
            {
                memory["swap"] = MemorySwap;
            }

            resources["memory"] = memory;
        }

        if (CpuShares != 0 || CpuQuota != 0 || CpuPeriod != 0 || CpusetCpus.Length > 0 || CpusetMems.Length > 0)
        {
            var cpu = new JsonObject();
            if (CpuShares > 0)
            {
                cpu["shares"] = CpuShares;
            }

            if (CpuQuota != 0)
            {
                cpu["quota"] = CpuQuota;
            }

            if (CpuPeriod > 0)
            {
                cpu["period"] = CpuPeriod;
            }

            if (CpusetCpus.Length > 0)
            {
                cpu["cpus"] = CpusetCpus;
            }

            if (CpusetMems.Length > 0)
            {
                cpu["mems"] = CpusetMems;
            }

            resources["cpu"] = cpu;
        }

        if (PidsLimit != 0)
        {
            resources["pids"] = new JsonObject { ["limit"] = PidsLimit };
        }
    }

    /// <summary>podman inspect's HostConfig fields for these limits.</summary>
    public void Inspect(JsonObject hostConfig)
    {
        ArgumentNullException.ThrowIfNull(hostConfig);
        hostConfig["Memory"] = Memory;
        hostConfig["MemorySwap"] = MemorySwap < 0 ? 0 : MemorySwap;
        hostConfig["MemoryReservation"] = MemoryReservation;
        hostConfig["NanoCpus"] = NanoCpus;
        hostConfig["CpuShares"] = CpuShares;
        hostConfig["CpuQuota"] = CpuQuota;
        hostConfig["CpuPeriod"] = CpuPeriod;
        hostConfig["CpusetCpus"] = CpusetCpus;
        hostConfig["CpusetMems"] = CpusetMems;
        hostConfig["PidsLimit"] = PidsLimit;
    }

    /// <summary>
    /// Why this user's containers cannot get cgroup limits, or null when they can: root always can;
    /// rootless only on cgroup v2 where the user's own cgroup has the controllers delegated to it
    /// (a systemd user session). podman's words for cgroup v1.
    /// </summary>
    public static string? UnsupportedReason(bool isRoot)
    {
        if (isRoot)
        {
            return null;
        }

        if (!File.Exists("/sys/fs/cgroup/cgroup.controllers"))
        {
            return "Resource limits are not supported and ignored on cgroups V1 rootless systems";
        }

        string own = File.ReadLines("/proc/self/cgroup").FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal))?[3..] ?? "/";
        string dir = Path.Join("/sys/fs/cgroup", own);
        string controllers = File.Exists(Path.Join(dir, "cgroup.controllers")) ? File.ReadAllText(Path.Join(dir, "cgroup.controllers")) : string.Empty;
        bool delegated = controllers.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is var c
            && c.Contains("memory") && c.Contains("pids") && Writable(Path.Join(dir, "cgroup.subtree_control"));
        return delegated
            ? null
            : $"Resource limits are not supported and ignored: the cgroup {own} is not delegated to this user (cgroups V2 without a systemd user session)";
    }

    private static bool Writable(string file)
    {
        try
        {
            // Opened, not written: the open alone asks the kernel for write permission.
            using var f = new FileStream(file, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Whether the host's memory cgroup accounts swap (cgroup v1 without swapaccount=1 does not).</summary>
    public static bool SwapAccounting() =>
        File.Exists("/sys/fs/cgroup/cgroup.controllers") || File.Exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");

    /// <summary>go-units' RAMInBytes, as podman reads --memory: a number with an optional b, k, m, g, t or p (1024-based).</summary>
    public static long Size(string value, string what)
    {
        ArgumentNullException.ThrowIfNull(value);
        var match = SizePattern().Match(value);
        if (!match.Success || !double.TryParse(match.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double n))
        {
            throw new WharfException($"invalid value for {what}: invalid size: '{value}'");
        }

        int shift = char.ToLowerInvariant(match.Groups[2].Value.FirstOrDefault()) switch
        {
            'k' => 10,
            'm' => 20,
            'g' => 30,
            't' => 40,
            'p' => 50,
            _ => 0,
        };
        return (long)(n * (1L << shift));
    }

    [GeneratedRegex(@"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")]
    private static partial Regex SizePattern();

    private static long Integer(string value, string flag) =>
        long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n)
            ? n
            : throw new WharfException($"invalid argument \"{value}\" for \"{flag}\" flag: parsing \"{value}\": invalid syntax");

    private static long Unsigned(string value, string flag) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n)
            ? n
            : throw new WharfException($"invalid argument \"{value}\" for \"{flag}\" flag: parsing \"{value}\": invalid syntax");

    /// <summary>A cpuset list (0-2,4) whose members this host has, as podman checks.</summary>
    private static string Cpuset(string value, string onlineFile, string what)
    {
        var requested = ListMembers(value) ?? throw new WharfException($"invalid value {value} for cpuset: it is a list like 0-2,4");
        var online = File.Exists(onlineFile) ? ListMembers(File.ReadAllText(onlineFile).Trim()) : null;
        if (online is not null && !requested.IsSubsetOf(online))
        {
            throw new WharfException($"requested {what} are not available - requested {value}, available: {File.ReadAllText(onlineFile).Trim()}");
        }

        return value;
    }

    private static HashSet<int>? ListMembers(string list)
    {
        var set = new HashSet<int>();
        foreach (string part in list.Split(','))
        {
            string[] range = part.Split('-');
            if (range.Length > 2 || !int.TryParse(range[0], NumberStyles.None, CultureInfo.InvariantCulture, out int from))
            {
                return null;
            }

            int to = from;
            if (range.Length == 2 && (!int.TryParse(range[1], NumberStyles.None, CultureInfo.InvariantCulture, out to) || to < from || to - from > 4096))
            {
                return null;
            }

            for (int i = from; i <= to; i++)
            {
                set.Add(i);
            }
        }

        return set;
    }
}
