using System.CommandLine;

namespace Wharf.Cli;

/// <summary>
/// podman 4.3 flags of the everyday verbs that wharf does not implement, in one table: each is
/// defined (hidden) on its command, so a script that passes one gets
/// <c>Error: --flag is not supported by wharf</c> and exit 125 before anything runs, never
/// <c>unknown flag</c> nor its value read as an argument; and the few accepted without effect,
/// because wharf already behaves as their value asks. run/create and build keep their own tables
/// (<see cref="Containers.RefusedRunFlags"/>, <see cref="Images.RefusedBuildFlags"/>).
/// </summary>
/// <remarks>
/// A flag is written <c>--name|-x</c> (its aliases after bars); <c>=</c> at the end means it takes
/// a value (refused whatever the value, unless the values wharf's behaviour equals follow the
/// <c>=</c>, comma-separated); without, it is a boolean refused when set true, or, written with
/// a leading <c>!</c>, refused when set false (podman's default is true).
/// </remarks>
internal static class RefusedFlags
{
    private const string RefusedDescription = "Not supported by wharf";

    private const string IgnoredDescription = "Accepted for compatibility; no effect in wharf";

    /// <summary>Command paths (below the root; every path a verb has) and the flags refused on them.</summary>
    public static readonly (string[] Paths, string[] Flags)[] Refused =
    [
        // podman's remote and configuration flags (before the verb): "" is the root command.
        ([""], ["--conmon=", "--connection=", "--hooks-dir=", "--identity=", "--network-cmd-path=", "--network-config-dir=", "--remote", "--ssh=", "--syslog", "--url="]),
        (["exec", "container exec"], ["--detach-keys=", "--preserve-fds=", "--privileged"]),
        (["images", "image ls", "image list"], ["--history"]),
        (["system prune"], ["--filter="]),
        (["image prune"], ["--filter="]),
        (["container prune"], ["--filter="]),
        (["volume prune"], ["--filter="]),
        (["volume ls", "volume list"], ["--filter|-f="]),
        (["volume create"], ["--driver|-d=local", "--label|-l=", "--opt|-o="]),
        (["volume rm", "volume remove"], ["--all|-a", "--time|-t="]),
        (["pull", "image pull"], ["--all-tags|-a"]),
        (["push", "image push"], ["--compression-format=", "--format|-f=", "--sign-by=", "--sign-by-sigstore-private-key=", "--sign-passphrase-file="]),
        (["cp", "container cp"], ["!--archive|-a", "--overwrite"]),
        (["save", "image save"], ["--uncompressed"]),
        (["login"], ["--verbose|-v"]),
        (["commit", "container commit"], ["--include-volumes", "--squash|-s"]),
        (["import", "image import"], ["--arch=", "--os=", "--variant="]),
        (["mount", "container mount"], ["--all|-a", "--format="]),
        (["unmount", "umount", "container unmount", "container umount"], ["--force|-f"]),
        (["pause", "container pause", "unpause", "container unpause"], ["--cidfile="]),
        (["restart", "container restart"], ["--cidfile=", "--filter|-f="]),
        (["diff", "container diff"], ["--format="]),
        (["search", "image search"], ["--compatible", "--filter|-f="]),
        (["rm", "container rm", "stop", "container stop", "kill", "container kill"], ["--cidfile="]),
        (["rmi", "image rm"], ["--no-prune"]),
        (["start", "container start"], ["--detach-keys=", "!--sig-proxy"]),
    ];

    /// <summary>Accepted and without effect: podman's own no-ops, or wharf already does what they ask.</summary>
    public static readonly (string[] Paths, string[] Flags)[] Ignored =
    [
        // podman: "This is a Docker specific option and is a NOOP".
        (["pull", "image pull", "push", "image push"], ["--disable-content-trust"]),

        // Only for the dir: transport, which wharf does not push to; wharf never copies signatures.
        (["push", "image push"], ["--compress", "--remove-signatures"]),

        // Containers of other tools (buildah's) in the store: wharf's store has none.
        (["image prune"], ["--external"]),
        (["container exists"], ["--external"]),
    ];

    /// <summary>Defines the table's flags on the commands of <paramref name="root"/> (commands absent from the tree are skipped).</summary>
    public static void AddTo(RootCommand root)
    {
        foreach (var (paths, flags) in Refused)
        {
            Add(root, paths, flags, RefusedDescription);
        }

        foreach (var (paths, flags) in Ignored)
        {
            Add(root, paths, flags, IgnoredDescription);
        }
    }

    private static void Add(RootCommand root, string[] paths, string[] flags, string description)
    {
        foreach (string path in paths)
        {
            Command? command = root;
            foreach (string word in path.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                command = command?.Subcommands.FirstOrDefault(c => c.Name == word || c.Aliases.Contains(word));
            }

            if (command is null)
            {
                continue;
            }

            foreach (string spec in flags)
            {
                string[] names = spec.TrimStart('!').Split('=')[0].Split('|');
                if (command.Options.Any(o => o.Name == names[0] || o.Aliases.Contains(names[0])))
                {
                    // The verb implements it after all (or defines it itself).
                    continue;
                }

                Option option = spec.Contains('=', StringComparison.Ordinal)
                    ? new Option<string[]>(names[0], names[1..]) { Description = description, Hidden = true, AllowMultipleArgumentsPerToken = false, Recursive = command == root }
                    : new Option<bool>(names[0], names[1..]) { Description = description, Hidden = true, Recursive = command == root };
                command.Options.Add(option);
                Specs.AddOrUpdate(option, spec);
            }
        }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Option, string> Specs = [];

    /// <summary>The refused flag the command line sets, or null.</summary>
    public static string? Find(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        foreach (var option in parse.CommandResult.Command.Options.Concat(parse.RootCommandResult.Command.Options))
        {
            if (option.Description != RefusedDescription || !Specs.TryGetValue(option, out string? spec) || parse.GetResult(option) is not { Implicit: false })
            {
                continue;
            }

            switch (option)
            {
                case Option<bool> flag:
                    bool podmanDefault = spec.StartsWith('!');
                    if (parse.GetValue(flag) != podmanDefault)
                    {
                        return option.Name;
                    }

                    break;
                case Option<string[]> valued:
                    string[] allowed = spec.Split('=', 2)[1].Split(',', StringSplitOptions.RemoveEmptyEntries);
                    if (allowed.Length == 0 || (parse.GetValue(valued) ?? []).Any(v => !allowed.Contains(v)))
                    {
                        return option.Name;
                    }

                    break;
            }
        }

        return null;
    }
}
