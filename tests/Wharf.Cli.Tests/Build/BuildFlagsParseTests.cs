using System.Text.RegularExpressions;

namespace Wharf.Cli.Tests.Build;

/// <summary>
/// Every flag podman 4.3's build accepts is known to wharf: implemented, accepted without effect, or
/// refused plainly; never an unknown flag, never a value read as the context. Real podman's help is the list.
/// </summary>
public sealed partial class BuildFlagsParseTests
{
    /// <summary>Values the implemented flags accept, so the build reaches the (absent) context.</summary>
    private static readonly Dictionary<string, string> Values = new(StringComparer.Ordinal)
    {
        ["--pull"] = "true",
        ["--network"] = "host",
        ["--format"] = "oci",
        ["--isolation"] = "oci",
        ["--ulimit"] = "nofile=1024:1024",
        ["--authfile"] = "/dev/null",
        ["--build-arg"] = "A=1",
        ["--label"] = "a=b",
        ["--annotation"] = "a=b",
        ["--secret"] = "id=a,src=/dev/null",
        ["--creds"] = "user:pass",
        ["--cert-dir"] = "/nonexistent",
        ["--tag"] = "flagtest",
        ["--file"] = "Containerfile",
        ["--iidfile"] = "/nonexistent/iid",
    };

    [GeneratedRegex(@"^\s+(?:-\w, )?(--[\w-]+)(?: (\S+))?\s{2,}", RegexOptions.Multiline)]
    private static partial Regex FlagLine();

    [Fact]
    public void Invoke_EveryFlagOfPodmansBuild_IsImplementedOrRefusedNeverMisread()
    {
        string help = Tools.Check("podman", "build", "--help");
        var flags = FlagLine().Matches(help).Select(m => (Name: m.Groups[1].Value, TakesValue: m.Groups[2].Success)).ToList();
        Assert.True(flags.Count > 80, $"podman build --help listed only {flags.Count} flags");

        using var wharf = new WharfRunner();
        string absent = Path.Combine(wharf.Dir, "absent-context");
        var failures = new List<string>();
        var refused = new List<string>();
        foreach (var (name, takesValue) in flags.Where(f => f.Name != "--help"))
        {
            string[] flag = takesValue ? [name, Values.GetValueOrDefault(name, "1")] : [name];
            var result = wharf.Run(["build", .. flag, absent]);
            bool isRefused = result.Stderr == $"Error: {name} is not supported by wharf\n";
            bool reachedContext = result.Stderr.Contains(absent, StringComparison.Ordinal);
            if (result.ExitCode != 125 || !(isRefused || reachedContext))
            {
                failures.Add($"{string.Join(' ', flag)}: exit {result.ExitCode}: {result.Stderr.Trim()}");
            }

            if (isRefused)
            {
                refused.Add(name);
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
        Assert.Contains("--volume", refused);
        Assert.DoesNotContain("--squash", refused);
        Assert.DoesNotContain("--secret", refused);
    }

    [Theory]
    [InlineData("--rm=false", "--rm")]
    [InlineData("--http-proxy", "--http-proxy")]
    [InlineData("-m 5m", "--memory")]
    [InlineData("-v /tmp:/mnt", "--volume")]
    [InlineData("--platform linux/arm64", "--platform")]
    public void Build_FlagWharfLacks_Exits125NamingIt(string flag, string name)
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run(["build", .. flag.Split(' '), wharf.Dir]);

        Assert.Equal(125, result.ExitCode);
        Assert.Equal($"Error: {name} is not supported by wharf\n", result.Stderr);
    }

    [Theory]
    [InlineData("--pull=never")]
    [InlineData("--pull never")]
    public void Build_PullNeverMissingBase_FailsAsPodmanWithoutPulling(string flag)
    {
        using var wharf = new WharfRunner();
        string context = Path.Combine(wharf.Dir, "ctx");
        Directory.CreateDirectory(context);
        File.WriteAllText(Path.Combine(context, "Containerfile"), "FROM localhost/nothere:1\n");

        var result = wharf.Run(["build", .. flag.Split(' '), context]);

        Assert.Equal(125, result.ExitCode);
        Assert.EndsWith("Error: creating build container: localhost/nothere:1: image not known\n", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_BarePullBeforeContext_TakesTheContextAsContext()
    {
        using var wharf = new WharfRunner();
        string absent = Path.Combine(wharf.Dir, "absent-context");

        var result = wharf.Run("build", "--pull", absent);

        Assert.Equal(125, result.ExitCode);
        Assert.Contains(absent, result.Stderr, StringComparison.Ordinal);
    }
}
