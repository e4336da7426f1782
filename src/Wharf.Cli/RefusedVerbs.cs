using System.CommandLine;

namespace Wharf.Cli;

/// <summary>
/// podman 4.3 verbs wharf does not implement, each refused with exit 125 and the reason, whatever
/// arguments a script passes, so a script stops at a clear line instead of an unknown command.
/// </summary>
public static class RefusedVerbs
{
    private const string OutOfScope = "out of scope for wharf";

    /// <summary>Top-level verbs and why each is refused.</summary>
    public static readonly IReadOnlyDictionary<string, string> TopLevel = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["attach"] = "containers run detached write their output to the log: use logs -f",
        ["auto-update"] = "it needs systemd units, which wharf does not generate",
        ["generate"] = OutOfScope + " (systemd units and Kubernetes YAML)",
        ["healthcheck"] = "wharf runs no health checks",
        ["init"] = "wharf creates the runtime container at start",
        ["kube"] = OutOfScope + " (pods)",
        ["machine"] = OutOfScope + " (virtual machines)",
        ["manifest"] = "manifest lists are built by the registry's clients, not wharf",
        ["network"] = OutOfScope + " (containers use the host's network or none)",
        ["pod"] = OutOfScope + " (pods)",
        ["secret"] = "wharf has no secret store",
        ["stats"] = "wharf does not read container cgroup statistics",
        ["unshare"] = "wharf enters the user namespace itself for the verbs that need it",
        ["update"] = "container resources are fixed at create",
    };

    public static readonly IReadOnlyDictionary<string, string> Container = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["attach"] = TopLevel["attach"],
        ["checkpoint"] = "checkpoint/restore (CRIU) is not supported",
        ["restore"] = "checkpoint/restore (CRIU) is not supported",
        ["cleanup"] = "wharf's monitor cleans up when the container exits",
        ["clone"] = "create a new container from the same image instead",
        ["init"] = TopLevel["init"],
        ["runlabel"] = "image RUN labels are not executed",
        ["stats"] = TopLevel["stats"],
        ["update"] = TopLevel["update"],
    };

    public static readonly IReadOnlyDictionary<string, string> Image = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["diff"] = "compare containers with diff instead",
        ["mount"] = "images are not mounted; mount a container",
        ["unmount"] = "images are not mounted; mount a container",
        ["scp"] = "use save and load",
        ["sign"] = "signatures are not supported",
        ["tree"] = "use history",
        ["trust"] = "signature policy is not supported",
    };

    public static readonly IReadOnlyDictionary<string, string> Volume = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["exists"] = "use volume inspect",
        ["export"] = "copy the volume's mountpoint (volume inspect) instead",
        ["import"] = "copy into the volume's mountpoint (volume inspect) instead",
        ["mount"] = "volumes are directories: their mountpoint is in volume inspect",
        ["unmount"] = "volumes are directories: their mountpoint is in volume inspect",
        ["reload"] = "wharf has no volume plugins",
    };

    public static readonly IReadOnlyDictionary<string, string> System = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["connection"] = OutOfScope + " (remote)",
        ["service"] = OutOfScope + " (the REST API service)",
        ["migrate"] = "wharf's store needs no migration",
        ["renumber"] = "wharf has no lock numbers to renumber",
    };

    public static bool IsRefused(Command command) =>
        command?.Description?.StartsWith("Not supported by wharf", StringComparison.Ordinal) == true;

    /// <summary>Adds a refusing command for each verb <paramref name="group"/> lacks.</summary>
    public static void AddTo(Command group, IReadOnlyDictionary<string, string> verbs, CliContext context)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(verbs);
        ArgumentNullException.ThrowIfNull(context);
        foreach (var (verb, why) in verbs)
        {
            if (group.Subcommands.Any(c => c.Name == verb))
            {
                continue;
            }

            var rest = new Argument<string[]>("ARGS") { Arity = ArgumentArity.ZeroOrMore };
            var command = new Command(verb, $"Not supported by wharf: {why}") { rest };
            command.Hidden = true;
            command.TreatUnmatchedTokensAsErrors = false;
            string path = group is RootCommand ? verb : group.Name + " " + verb;
            command.SetAction(_ =>
            {
                context.Err.WriteLine($"Error: {path} is not supported by wharf: {why}");
                return 125;
            });
            group.Add(command);
        }
    }
}
