using System.CommandLine;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary>
/// The flags of podman 4.3's build that wharf does not implement, defined (hidden) so a script that
/// passes one gets "Error: --flag is not supported by wharf", exit 125, instead of an unknown-flag
/// error or its value being read as the context; and the ones accepted without effect, because
/// wharf already builds the way their value asks.
/// </summary>
internal sealed class RefusedBuildFlags
{
    /// <summary>podman's value-taking build flags wharf refuses: long name, then its short alias if any.</summary>
    private static readonly string[][] ValueFlags =
    [
        ["--add-host"], ["--arch"], ["--blob-cache"], ["--build-context"], ["--cache-from"], ["--cache-to"], ["--cache-ttl"],
        ["--cap-add"], ["--cap-drop"], ["--cgroup-parent"], ["--cgroupns"], ["--cpp-flag"], ["--cpu-period"], ["--cpu-quota"],
        ["--cpu-shares", "-c"], ["--cpuset-cpus"], ["--cpuset-mems"], ["--decryption-key"], ["--device"], ["--dns"],
        ["--dns-option"], ["--dns-search"], ["--env"], ["--from"], ["--hooks-dir"], ["--ignorefile"], ["--ipc"],
        ["--logfile"], ["--manifest"], ["--memory", "-m"], ["--memory-swap"], ["--os"], ["--os-feature"], ["--os-version"],
        ["--output", "-o"], ["--pid"], ["--platform"], ["--retry"], ["--retry-delay"], ["--runtime-flag"],
        ["--security-opt"], ["--shm-size"], ["--sign-by"], ["--signature-policy"], ["--ssh"], ["--timestamp"],
        ["--unsetenv"], ["--userns"], ["--userns-gid-map"], ["--userns-gid-map-group"], ["--userns-uid-map"],
        ["--userns-uid-map-user"], ["--uts"], ["--variant"], ["--volume", "-v"],
    ];

    /// <summary>podman's boolean build flags wharf refuses when set to what wharf does not do (podman's default is false unless listed in <see cref="TrueByDefault"/>).</summary>
    private static readonly string[][] BoolFlags =
    [
        ["--all-platforms"], ["--logsplit"], ["--no-hosts"], ["--omit-history"], ["--stdin"],
        ["--rm"], ["--force-rm"], ["--http-proxy"], ["--identity-label"],
    ];

    /// <summary>
    /// Refused when set false: wharf always removes a step's container (--rm, --force-rm). Refused
    /// when set true although podman's default: wharf passes no proxy variables (--http-proxy) and
    /// adds no io.buildah.version label (--identity-label).
    /// </summary>
    private static readonly HashSet<string> TrueByDefault = new(StringComparer.Ordinal) { "--rm", "--force-rm" };

    /// <summary>Accepted, without effect: legacy or no-op in podman too, or wharf's result is the same for any value.</summary>
    private static readonly string[][] IgnoredBoolFlags = [["--compress"], ["--disable-content-trust"], ["--disable-compression", "-D"], ["--skip-unused-stages"]];

    private readonly List<Option<string[]>> _values = [];

    private readonly List<Option<bool>> _bools = [];

    private readonly List<Option<bool>> _ignored = [];

    public RefusedBuildFlags()
    {
        foreach (string[] names in ValueFlags)
        {
            _values.Add(new Option<string[]>(names[0], names[1..]) { Description = "Not supported by wharf", Hidden = true });
        }

        foreach (string[] names in BoolFlags)
        {
            _bools.Add(new Option<bool>(names[0], names[1..]) { Description = "Not supported by wharf", Hidden = true });
        }

        foreach (string[] names in IgnoredBoolFlags)
        {
            _ignored.Add(new Option<bool>(names[0], names[1..]) { Description = "Accepted for compatibility; no effect", Hidden = true });
        }
    }

    /// <summary>--jobs: stages are built one after the other whatever the number; the image is the same.</summary>
    public Option<int> Jobs { get; } = new("--jobs") { Description = "Accepted for compatibility: stages are built one at a time", Hidden = true };

    /// <summary>--isolation: only oci, the runtime wharf runs RUN steps with.</summary>
    public Option<string?> Isolation { get; } = new("--isolation") { Description = "Process isolation for RUN: only oci", Hidden = true };

    /// <summary>The long names of every refused flag, for the docs.</summary>
    public static IEnumerable<string> Names => ValueFlags.Concat(BoolFlags).Select(n => n[0]);

    public IEnumerable<Option> Options => _values.Cast<Option>().Concat(_bools).Concat(_ignored).Append(Jobs).Append(Isolation);

    /// <summary>Throws for the first refused flag the command line sets.</summary>
    public void Refuse(ParseResult parse)
    {
        foreach (Option o in _values)
        {
            if (parse.GetResult(o) is { Implicit: false })
            {
                throw new WharfException($"{o.Name} is not supported by wharf");
            }
        }

        foreach (Option<bool> o in _bools)
        {
            bool set = parse.GetResult(o) is { Implicit: false };
            if (set && parse.GetValue(o) != TrueByDefault.Contains(o.Name))
            {
                throw new WharfException($"{o.Name} is not supported by wharf");
            }
        }

        if (parse.GetValue(Isolation) is { } isolation && isolation != "oci")
        {
            throw new WharfException($"--isolation {isolation} is not supported by wharf: only oci");
        }
    }
}
