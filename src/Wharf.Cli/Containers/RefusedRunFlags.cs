using System.CommandLine;
using Wharf.Engine;

namespace Wharf.Cli.Containers;

/// <summary>
/// The flags of podman 4.3's run and create that wharf does not implement. They are defined (hidden)
/// so a script that passes one gets "Error: --flag is not supported by wharf", exit 125, instead of
/// the flag or its value being read as the image name; and so the split of run's arguments knows
/// which of them take a value.
/// </summary>
internal sealed class RefusedRunFlags
{
    /// <summary>podman's value-taking flags wharf refuses: long name, then its short alias if any.</summary>
    private static readonly string[][] ValueFlags =
    [
        ["--add-host"], ["--annotation"], ["--arch"], ["--attach", "-a"], ["--blkio-weight"], ["--blkio-weight-device"],
        ["--cgroup-conf"], ["--cgroup-parent"], ["--cgroupns"], ["--cgroups"],
        ["--chrootdirs"], ["--cidfile"], ["--conmon-pidfile"], ["--cpu-rt-period"],
        ["--cpu-rt-runtime"], ["--detach-keys"],
        ["--device-cgroup-rule"], ["--device-read-bps"], ["--device-read-iops"], ["--device-write-bps"],
        ["--device-write-iops"], ["--dns"], ["--dns-option"], ["--dns-search"], ["--env-merge"], ["--expose"],
        ["--gidmap"], ["--health-cmd"], ["--health-interval"], ["--health-on-failure"],
        ["--health-retries"], ["--health-start-period"], ["--health-timeout"], ["--hostuser"], ["--image-volume"],
        ["--init-ctr"], ["--init-path"], ["--ip"], ["--ip6"], ["--label-file"],
        ["--mac-address"], ["--memory-swappiness"],
        ["--network-alias"], ["--oom-score-adj"], ["--os"], ["--passwd-entry"], ["--personality"],
        ["--pidfile"], ["--platform"], ["--pod"], ["--pod-id-file"], ["--preserve-fds"],
        ["--requires"], ["--sdnotify"], ["--seccomp-policy"], ["--secret"],
        ["--stop-signal"], ["--stop-timeout"], ["--subgidname"], ["--subuidname"],
        ["--sysctl"], ["--systemd"], ["--uidmap"], ["--umask"], ["--unsetenv"],
        ["--uts"], ["--variant"], ["--volumes-from"],
    ];

    /// <summary>podman's boolean flags wharf refuses when they are set true.</summary>
    private static readonly string[][] BoolFlags =
    [
        ["--disable-content-trust"], ["--http-proxy"], ["--no-healthcheck"], ["--no-hosts"],
        ["--oom-kill-disable"], ["--passwd"],
        ["--rmi"], ["--rootfs"], ["--sig-proxy"], ["--unsetenv-all"],
    ];

    private readonly List<Option<string[]>> _values = [];

    private readonly List<Option<bool>> _bools = [];

    public RefusedRunFlags()
    {
        foreach (string[] names in ValueFlags)
        {
            _values.Add(new Option<string[]>(names[0], names[1..]) { Description = "Not supported by wharf", Hidden = true });
        }

        foreach (string[] names in BoolFlags)
        {
            _bools.Add(new Option<bool>(names[0], names[1..]) { Description = "Not supported by wharf", Hidden = true });
        }
    }

    /// <summary>The long names of every refused flag, for the docs' flag table and its test.</summary>
    public static IEnumerable<string> Names => ValueFlags.Concat(BoolFlags).Select(n => n[0]);

    public IEnumerable<Option> Options => _values.Cast<Option>().Concat(_bools);

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
            // podman's false is its default, so "--rmi=false" asks for nothing wharf lacks; --sig-proxy
            // defaults to true, so it is "--sig-proxy=false" that is refused.
            bool set = parse.GetResult(o) is { Implicit: false };
            bool value = parse.GetValue(o);
            bool podmanDefault = o.Name is "--sig-proxy";
            if (set && value != podmanDefault)
            {
                throw new WharfException($"{o.Name} is not supported by wharf");
            }
        }
    }
}
