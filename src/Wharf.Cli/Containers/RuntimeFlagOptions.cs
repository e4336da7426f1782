using System.CommandLine;
using Wharf.Engine.Containers;

namespace Wharf.Cli.Containers;

/// <summary>The run/create flags that shape the runtime spec (capabilities, read-only rootfs, tmpfs, namespaces).</summary>
internal sealed class RuntimeFlagOptions
{
    private readonly Option<string[]> _capAdd = new("--cap-add") { Description = "Add capabilities to the container (a name with or without CAP_, or ALL)" };

    private readonly Option<string[]> _capDrop = new("--cap-drop") { Description = "Drop capabilities from the container (a name with or without CAP_, or ALL)" };

    private readonly Option<bool> _readOnly = new("--read-only") { Description = "Make containers root filesystem read-only" };

    private readonly Option<bool> _readOnlyTmpfs = new("--read-only-tmpfs") { Description = "When running --read-only, mount tmpfs on /run, /tmp and /var/tmp", DefaultValueFactory = _ => true };

    private readonly Option<string[]> _tmpfs = new("--tmpfs") { Description = "Mount a temporary filesystem (PATH[:OPTIONS])" };

    private readonly Option<string[]> _securityOpt = new("--security-opt") { Description = "Security options: no-new-privileges, label=disable, seccomp=unconfined, apparmor=unconfined" };

    private readonly Option<string?> _shmSize = new LastWinsOption("--shm-size") { Description = "Size of /dev/shm (<number>[<unit>])" };

    private readonly Option<string?> _pid = new LastWinsOption("--pid") { Description = "PID namespace to use: private or host" };

    private readonly Option<string?> _ipc = new LastWinsOption("--ipc") { Description = "IPC namespace to use: private or host" };

    private readonly Option<string[]> _groupAdd = new("--group-add") { Description = "Add additional groups to the container's process (name or GID)" };

    private readonly Option<string?> _tz = new LastWinsOption("--tz") { Description = "Set timezone in container: local or a zone name (Europe/Berlin)" };

    private readonly Option<bool> _init = new("--init") { Description = "Run an init inside the container that forwards signals and reaps processes" };

    private readonly Option<bool> _privileged = new("--privileged") { Description = "Give extended privileges to container" };

    private readonly Option<string?> _timeout = new LastWinsOption("--timeout") { Description = "Maximum length of time a container is allowed to run. The container will be killed automatically after the time expires." };

    private readonly Option<string?> _restart = new LastWinsOption("--restart") { Description = "Restart policy to apply when a container exits (\"always\"|\"no\"|\"on-failure\"|\"unless-stopped\"); detached containers only" };

    private readonly Option<string?> _logDriver = new LastWinsOption("--log-driver") { Description = "Logging driver for the container: k8s-file (default), json-file (written as k8s-file, as podman 4.3 does), none, passthrough" };

    private readonly Option<string[]> _logOpt = new("--log-opt") { Description = "Logging driver options: path=FILE, max-size=SIZE" };

    public IEnumerable<Option> Options => [_logDriver, _logOpt, _capAdd, _capDrop, _readOnly, _readOnlyTmpfs, _tmpfs, _securityOpt, _shmSize, _pid, _ipc, _groupAdd, _tz, _init, _privileged, _timeout, _restart];

    public RuntimeFlags Read(ParseResult parse)
    {
        var (restart, retries) = RuntimeFlags.ParseRestart(parse.GetValue(_restart) ?? string.Empty);
        var (logPath, logSizeMax) = RuntimeFlags.ParseLogOpts(parse.GetValue(_logOpt) ?? []);
        return new RuntimeFlags
        {
            LogDriver = RuntimeFlags.ParseLogDriver(parse.GetValue(_logDriver) ?? string.Empty),
            LogPath = logPath,
            LogSizeMax = logSizeMax,
            Restart = restart,
            RestartRetries = retries,
            CapAdd = [.. parse.GetValue(_capAdd) ?? []],
            CapDrop = [.. parse.GetValue(_capDrop) ?? []],
            ReadOnly = parse.GetValue(_readOnly),
            ReadOnlyTmpfs = parse.GetValue(_readOnlyTmpfs),
            Tmpfs = [.. parse.GetValue(_tmpfs) ?? []],
            SecurityOpts = [.. parse.GetValue(_securityOpt) ?? []],
            ShmSize = parse.GetValue(_shmSize),
            Pid = parse.GetValue(_pid) ?? string.Empty,
            Ipc = parse.GetValue(_ipc) ?? string.Empty,
            GroupAdd = [.. parse.GetValue(_groupAdd) ?? []],
            Tz = parse.GetValue(_tz),
            Init = parse.GetValue(_init),
            Privileged = parse.GetValue(_privileged),
            Timeout = parse.GetValue(_timeout) is { } t
                ? uint.TryParse(t, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out uint seconds) ? seconds
                    : throw new Engine.WharfException($"invalid argument \"{t}\" for \"--timeout\" flag: parsing \"{t}\": invalid syntax")
                : 0,
        };
    }
}
