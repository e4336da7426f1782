using System.CommandLine;
using Wharf.Engine.Containers;

namespace Wharf.Cli.Containers;

/// <summary>The run/create flags that become cgroup limits.</summary>
internal sealed class ResourceFlagOptions
{
    private readonly Option<string?> _memory = new LastWinsOption("--memory", "-m") { Description = "Memory limit (format: <number>[<unit>], where unit = b (bytes), k (kibibytes), m (mebibytes), or g (gibibytes))" };

    private readonly Option<string?> _memorySwap = new LastWinsOption("--memory-swap") { Description = "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" };

    private readonly Option<string?> _memoryReservation = new LastWinsOption("--memory-reservation") { Description = "Memory soft limit (format: <number>[<unit>])" };

    private readonly Option<string?> _cpus = new LastWinsOption("--cpus") { Description = "Number of CPUs. The default is 0.000 which means no limit" };

    private readonly Option<string?> _cpuShares = new LastWinsOption("--cpu-shares", "-c") { Description = "CPU shares (relative weight)" };

    private readonly Option<string?> _cpuQuota = new LastWinsOption("--cpu-quota") { Description = "Limit the CPU CFS (Completely Fair Scheduler) quota" };

    private readonly Option<string?> _cpuPeriod = new LastWinsOption("--cpu-period") { Description = "Limit the CPU CFS (Completely Fair Scheduler) period" };

    private readonly Option<string?> _cpusetCpus = new LastWinsOption("--cpuset-cpus") { Description = "CPUs in which to allow execution (0-3, 0,1)" };

    private readonly Option<string?> _cpusetMems = new LastWinsOption("--cpuset-mems") { Description = "Memory nodes (MEMs) in which to allow execution (0-3, 0,1). Only effective on NUMA systems." };

    private readonly Option<string?> _pidsLimit = new LastWinsOption("--pids-limit") { Description = "Tune container pids limit (set -1 for unlimited)" };

    public IEnumerable<Option> Options => [_memory, _memorySwap, _memoryReservation, _cpus, _cpuShares, _cpuQuota, _cpuPeriod, _cpusetCpus, _cpusetMems, _pidsLimit];

    public ResourceLimits Read(ParseResult parse) => ResourceLimits.Parse(new ResourceRequest
    {
        Memory = parse.GetValue(_memory),
        MemorySwap = parse.GetValue(_memorySwap),
        MemoryReservation = parse.GetValue(_memoryReservation),
        Cpus = parse.GetValue(_cpus),
        CpuShares = parse.GetValue(_cpuShares),
        CpuQuota = parse.GetValue(_cpuQuota),
        CpuPeriod = parse.GetValue(_cpuPeriod),
        CpusetCpus = parse.GetValue(_cpusetCpus),
        CpusetMems = parse.GetValue(_cpusetMems),
        PidsLimit = parse.GetValue(_pidsLimit),
    });
}
