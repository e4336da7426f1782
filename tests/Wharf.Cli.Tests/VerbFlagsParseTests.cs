using System.Text.RegularExpressions;

namespace Wharf.Cli.Tests;

/// <summary>
/// Every flag of podman 4.3's everyday verbs (from real podman's <c>--help</c> on this machine)
/// is known to wharf: implemented (it reaches the verb, whose own error about the missing
/// container or image is fine), or refused with exit 125 and exactly
/// <c>Error: FLAG is not supported by wharf</c>; never "unknown flag", never its value or the
/// argument after it taken as something else, never a parser crash. run/create and build have
/// their own tables (<c>RunFlagsParseTests</c>, <c>BuildFlagsParseTests</c>).
/// </summary>
public sealed partial class VerbFlagsParseTests
{
    /// <summary>The verb's words and the arguments after the flag (a name that exists nowhere, so nothing happens).</summary>
    public static TheoryData<string, string> Verbs => new()
    {
        { "exec", "absent-ctr true" },
        { "ps", string.Empty },
        { "images", string.Empty },
        { "image ls", string.Empty },
        { "rm", "absent-ctr" },
        { "rmi", "absent-img" },
        { "stop", "absent-ctr" },
        { "kill", "absent-ctr" },
        { "start", "absent-ctr" },
        { "restart", "absent-ctr" },
        { "pause", "absent-ctr" },
        { "unpause", "absent-ctr" },
        { "wait", "absent-ctr" },
        { "top", "absent-ctr" },
        { "port", "absent-ctr" },
        { "logs", "absent-ctr" },
        { "inspect", "absent-obj" },
        { "container inspect", "absent-ctr" },
        { "container exists", "absent-ctr" },
        { "image exists", "absent-img" },
        { "container prune", string.Empty },
        { "image prune", string.Empty },
        { "rename", "absent-ctr new-name" },
        { "commit", "absent-ctr" },
        { "diff", "absent-ctr" },
        { "export", "absent-ctr" },
        { "mount", "absent-ctr" },
        { "unmount", "absent-ctr" },
        { "cp", "absent-ctr:/etc/hostname absent-dir/x" },
        { "pull", "127.0.0.1:1/absent:1" },
        { "push", "absent-img" },
        { "tag", "absent-img localhost/x:1" },
        { "untag", "absent-img" },
        { "history", "absent-img" },
        { "save", "absent-img" },
        { "load", string.Empty },
        { "import", "absent-file.tar" },
        { "search", "127.0.0.1:1/absent" },
        { "login", "127.0.0.1:1" },
        { "logout", "127.0.0.1:1" },
        { "volume create", "vol-a" },
        { "volume ls", string.Empty },
        { "volume inspect", "absent-vol" },
        { "volume rm", "absent-vol" },
        { "volume prune", string.Empty },
        { "events", "--stream=false" },
        { "system df", string.Empty },
        { "system prune", string.Empty },
        { "info", string.Empty },
        { "version", string.Empty },
    };

    /// <summary>Values that let a flag's own check pass, where "1" would not.</summary>
    private static readonly Dictionary<string, string> Values = new(StringComparer.Ordinal)
    {
        ["--format"] = "{{.ID}}",
        ["--filter"] = "id=0",
        ["--signal"] = "TERM",
        ["--condition"] = "stopped",
        ["--since"] = "10m",
        ["--until"] = "10m",
        ["--sort"] = "created",
        ["--type"] = "all",
        ["--driver"] = "local",
        ["--authfile"] = "/dev/null",
        ["--cert-dir"] = "/dev/null",
        ["--output"] = "out.tar",
        ["--input"] = "/dev/null",
        ["--creds"] = "a:b",
        ["--password"] = "p",
        ["--username"] = "u",
        ["--platform"] = "linux/amd64",
        ["--change"] = "CMD [\"sh\"]",
        ["--message"] = "m",
        ["--digestfile"] = "digest",
        ["--env"] = "A=1",
        ["--user"] = "0",
        ["--workdir"] = "/",
        ["--time"] = "0",
        ["--interval"] = "250ms",
        ["--limit"] = "2",
    };

    /// <summary>Flags whose every use would wait for a stream (events --stream follows the file).</summary>
    private static readonly HashSet<string> Streaming = new(StringComparer.Ordinal) { "events --stream" };

    [GeneratedRegex(@"^\s+(?:-\w, )?(--[\w-]+)(?: (\S+))?\s{2,}", RegexOptions.Multiline)]
    private static partial Regex FlagLine();

    private static readonly string[] Misreadings =
    [
        "unknown flag", "Unrecognized command or argument", "invalid reference", "Unhandled exception", "   at ",
        "Required argument", "System.", "unknown shorthand",
    ];

    [Theory]
    [MemberData(nameof(Verbs))]
    public void Invoke_EveryFlagOfPodmansVerb_IsImplementedOrRefusedByName(string verb, string arguments)
    {
        string[] words = verb.Split(' ');
        string help = Tools.Check("podman", [.. words, "--help"]);
        var flags = FlagLine().Matches(help).Select(m => (Name: m.Groups[1].Value, TakesValue: m.Groups[2].Success)).Where(f => f.Name != "--help").ToList();
        if (verb is not ("version" or "export" or "port" or "unmount" or "untag" or "rename" or "image exists" or "tag" or "logout" or "system df" or "diff" or "top" or "container exists"))
        {
            Assert.True(flags.Count > 0, $"podman {verb} --help listed no flags:\n{help}");
        }

        using var wharf = new WharfRunner();
        var failures = new List<string>();
        foreach (var (name, takesValue) in flags.Where(f => !Streaming.Contains(verb + " " + f.Name)))
        {
            string[] flag = takesValue ? [name, Values.GetValueOrDefault(name, "1")] : [name];
            var result = wharf.Run([.. words, .. flag, .. arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)]);
            string why = Describe(name, result);
            if (why.Length > 0)
            {
                failures.Add($"wharf {verb} {string.Join(' ', flag)} {arguments}: {why}: exit {result.ExitCode}: {result.Stderr.Trim()}");
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    /// <summary>What is wrong with wharf's answer to a podman flag, or empty when it is accepted or refused properly.</summary>
    private static string Describe(string name, WharfRunner.Result result)
    {
        if (result.Stderr.Contains("is not supported by wharf", StringComparison.Ordinal))
        {
            return result.ExitCode == 125 && result.Stderr == $"Error: {name} is not supported by wharf\n" ? string.Empty : "refused, but not in podman's form";
        }

        return Misreadings.FirstOrDefault(m => result.Stderr.Contains(m, StringComparison.Ordinal)) is { } misread ? $"misread ({misread})" : string.Empty;
    }

    [Fact]
    public void Invoke_EveryGlobalFlagOfPodman_IsImplementedOrRefusedByName()
    {
        string help = Tools.Check("podman", "--help");
        var flags = FlagLine().Matches(help[help.IndexOf("Options:", StringComparison.Ordinal)..])
            .Select(m => (Name: m.Groups[1].Value, TakesValue: m.Groups[2].Success))
            .Where(f => f.Name is not ("--help" or "--version"))
            .ToList();
        Assert.True(flags.Count > 15, $"podman --help listed only {flags.Count} global flags");

        using var wharf = new WharfRunner();
        var failures = new List<string>();
        foreach (var (name, takesValue) in flags)
        {
            // --namespace (libpod's, deprecated) clashes with ps's own --namespace flag: documented as not accepted.
            if (name == "--namespace")
            {
                continue;
            }

            string[] flag = takesValue ? [name, name switch { "--log-level" => "warn", "--cgroup-manager" => "cgroupfs", "--events-backend" => "file", "--runtime" => "runc", "--storage-opt" => "overlay.mount_program=/usr/bin/fuse-overlayfs", _ => Path.Combine(wharf.Dir, "g") }] : [name];
            var result = wharf.Run([.. flag, "version"]);
            string why = Describe(name, result);
            if (why.Length > 0 || (result.ExitCode != 0 && !result.Stderr.Contains("is not supported by wharf", StringComparison.Ordinal)))
            {
                failures.Add($"wharf {string.Join(' ', flag)} version: {why}: exit {result.ExitCode}: {result.Stderr.Trim()}");
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Theory]
    [InlineData("exec --privileged absent-ctr true", "--privileged")]
    [InlineData("exec --preserve-fds 1 absent-ctr true", "--preserve-fds")]
    [InlineData("volume rm --all", "--all")]
    [InlineData("volume create --label a=b v", "--label")]
    [InlineData("volume create -o type=tmpfs v", "--opt")]
    [InlineData("push --sign-by key absent-img", "--sign-by")]
    [InlineData("cp --archive=false absent-ctr:/a b", "--archive")]
    [InlineData("start --sig-proxy=false absent-ctr", "--sig-proxy")]
    [InlineData("stop --cidfile ids", "--cidfile")]
    [InlineData("--remote version", "--remote")]
    [InlineData("--url unix:///run/podman.sock ps", "--url")]
    public void Invoke_RefusedFlag_Exits125NamingIt_BeforeAnythingRuns(string line, string name)
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run(line.Split(' '));

        Assert.Equal(125, result.ExitCode);
        Assert.Equal($"Error: {name} is not supported by wharf\n", result.Stderr);
        Assert.Equal(string.Empty, result.Stdout);
        Assert.False(Directory.Exists(Path.Combine(wharf.GraphRoot, "wharf", "volumes", "v")));
    }

    [Theory]
    [InlineData("volume create --driver local v")]
    [InlineData("cp --archive absent-ctr:/a b")]
    [InlineData("start --sig-proxy absent-ctr")]
    [InlineData("pull --disable-content-trust 127.0.0.1:1/absent:1")]
    [InlineData("image prune --external -f")]
    public void Invoke_FlagWhoseValueIsWharfsBehaviour_IsAccepted(string line)
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run(line.Split(' '));

        Assert.DoesNotContain("not supported", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("unknown flag", result.Stderr, StringComparison.Ordinal);
    }
}
