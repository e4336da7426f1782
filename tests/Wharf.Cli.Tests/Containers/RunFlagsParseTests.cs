using System.Text.RegularExpressions;

namespace Wharf.Cli.Tests.Containers;

/// <summary>
/// Every flag podman's run and create accept is known to wharf: implemented, or refused plainly,
/// never taken as the image name. Real podman's help is the list of flags.
/// </summary>
public sealed partial class RunFlagsParseTests
{
    private const string Absent = "localhost/absent:1";

    /// <summary>Values the implemented flags accept, so the run reaches the image lookup.</summary>
    private static readonly Dictionary<string, string> Values = new(StringComparer.Ordinal)
    {
        ["--pull"] = "never",
        ["--network"] = "none",
        ["--userns"] = "host",
        ["--ulimit"] = "nofile=1024:1024",
        ["--env-file"] = "/dev/null",
        ["--authfile"] = "/dev/null",
        ["--device"] = "/dev/null",
        ["--volume"] = "/tmp:/mnt",
        ["--env"] = "A=1",
        ["--user"] = "0",
        ["--name"] = "flag-test",
        ["--cap-add"] = "net_admin",
        ["--cap-drop"] = "ALL",
        ["--tmpfs"] = "/scratch",
        ["--security-opt"] = "no-new-privileges",
        ["--shm-size"] = "64m",
        ["--pid"] = "host",
        ["--ipc"] = "host",
        ["--tz"] = "local",
        ["--mount"] = "type=tmpfs,dst=/scratch",
        ["--publish"] = "8080:80",
        ["--cpuset-cpus"] = "0",
        ["--cpuset-mems"] = "0",
        ["--memory"] = "64m",
        ["--restart"] = "no",
        ["--log-driver"] = "k8s-file",
        ["--log-opt"] = "max-size=1m",
    };

    public static TheoryData<string> Verbs => new() { "run", "create" };

    [GeneratedRegex(@"^\s+(?:-\w, )?(--[\w-]+)(?: (\S+))?\s{2,}", RegexOptions.Multiline)]
    private static partial Regex FlagLine();

    [Theory]
    [MemberData(nameof(Verbs))]
    public void Invoke_EveryFlagOfPodmansRun_IsImplementedOrRefusedNeverTheImage(string verb)
    {
        string help = Tools.Check("podman", verb, "--help");
        var flags = FlagLine().Matches(help).Select(m => (Name: m.Groups[1].Value, TakesValue: m.Groups[2].Success)).ToList();
        Assert.True(flags.Count > 100, $"podman {verb} --help listed only {flags.Count} flags");

        using var wharf = new WharfRunner();
        var failures = new List<string>();
        foreach (var (name, takesValue) in flags.Where(f => f.Name != "--help"))
        {
            string[] flag = takesValue ? [name, Values.GetValueOrDefault(name, "1")] : [name];
            var result = wharf.Run([verb, .. flag, "--pull", "never", Absent, "true"]);
            bool refused = result.Stderr == $"Error: {name} is not supported by wharf\n";
            bool reachedImage = result.Stderr.Contains(Absent, StringComparison.Ordinal);
            if (result.ExitCode != 125 || !(refused || reachedImage))
            {
                failures.Add($"{string.Join(' ', flag)}: exit {result.ExitCode}: {result.Stderr.Trim()}");
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Theory]
    [InlineData("--memory-swappiness=0", "--memory-swappiness")]
    [InlineData("--oom-kill-disable", "--oom-kill-disable")]
    [InlineData("--expose 80", "--expose")]
    [InlineData("--sig-proxy=false", "--sig-proxy")]
    public void Run_FlagWharfLacks_Exits125NamingIt(string flag, string name)
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run(["run", .. flag.Split(' '), "--pull", "never", Absent, "true"]);

        Assert.Equal(125, result.ExitCode);
        Assert.Equal($"Error: {name} is not supported by wharf\n", result.Stderr);
    }

    [Fact]
    public void Run_FlagPodmanLacksToo_SameTextAsPodman()
    {
        using var wharf = new WharfRunner();

        var podman = Tools.Run("podman", "run", "--no-such-flag", Absent, "true");
        var result = wharf.Run("run", "--no-such-flag", Absent, "true");

        Assert.Equal(125, podman.ExitCode);
        Assert.Equal(podman.ExitCode, result.ExitCode);
        Assert.Equal(podman.Stderr.Replace("podman", "wharf", StringComparison.Ordinal), result.Stderr);
    }
}
