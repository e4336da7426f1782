using System.CommandLine;
using Wharf.Engine.Containers;

namespace Wharf.Cli.Containers;

/// <summary>The container verbs: registration, the engine they share, and the argument split podman's run needs.</summary>
public static class ContainerCli
{
    private static readonly string[] Verbs = ["run", "create", "exec"];

    private static readonly HashSet<string> GlobalValueOptions = new(StringComparer.Ordinal) 
    {
        "--root", "--runroot", "--storage-driver", "--log-level", "--events-backend", "--runtime", "--runtime-flag", "--cgroup-manager",
        "--storage-opt", "--volumepath", "--tmpdir",
    };

    /// <summary>
    /// The flags of run and create that take a value, from their definitions (exec's -e, -w and -u
    /// are among them), and the global ones.
    /// </summary>
    private static readonly HashSet<string> RunValueOptions = new(
        new CreateFlags().Options
            .Where(o => o.ValueType != typeof(bool) && o.ValueType != typeof(bool?))
            .SelectMany(o => o.Aliases.Prepend(o.Name))
            .Concat(GlobalValueOptions),
        StringComparer.Ordinal);

    public static ContainerEngine Engine(CliContext context, ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new ContainerEngine(context.Engine(parse), context.Err);
    }

    /// <summary>
    /// podman stops reading its own flags at the image (run, create) or container (exec): what follows
    /// is the container's command. A <c>--</c> is put after that word so the parser sees it that way.
    /// </summary>
    public static string[] SplitCommand(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        int i = 0;
        while (i < args.Length && args[i].StartsWith('-'))
        {
            i += GlobalValueOptions.Contains(args[i]) ? 2 : 1;
        }

        if (i < args.Length && args[i] == "container")
        {
            i++;
        }

        if (i >= args.Length || !Verbs.Contains(args[i]))
        {
            return args;
        }

        // exec's -l is --latest, a boolean; run's and create's is --label, with a value.
        bool exec = args[i] == "exec";
        bool latest = false;
        for (i++; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "--")
            {
                return args;
            }

            if (a.StartsWith('-') && a.Length > 1)
            {
                if (RunValueOptions.Contains(a) && !(exec && a is "-l"))
                {
                    i++;
                }

                latest |= exec && (a is "--latest" || (a.Contains('l', StringComparison.Ordinal) && a[1..].All(f => f is 'd' or 'i' or 't' or 'l')));
                continue;
            }

            // exec --latest names no container: this word starts the command (and "true" must not be read as -l's value).
            if (latest)
            {
                return [.. args[..i], "--", .. args[i..]];
            }

            // args[i] is the image (or container): everything after it belongs to the command.
            return i + 1 < args.Length ? [.. args[..(i + 1)], "--", .. args[(i + 1)..]] : args;
        }

        return args;
    }

    public static IEnumerable<Command> TopLevel(CliContext c)
    {
        yield return RunCommand.Create(c, "run");
        yield return CreateCommand.Create(c, "create");
        yield return StartCommand.Create(c);
        yield return PsCommand.Create(c, "ps");
        yield return LogsCommand.Create(c);
        yield return StopCommand.Create(c);
        yield return KillCommand.Create(c);
        yield return RmCommand.Create(c, "rm");
        yield return ExecCommand.Create(c);
        yield return DiffCommand.Create(c);
        yield return CommitCommand.Create(c);
        foreach (var verb in MoreVerbs(c))
        {
            yield return verb;
        }
    }

    /// <summary>The verbs scripts use beyond run/ps/stop: both top level and under <c>container</c>.</summary>
    private static IEnumerable<Command> MoreVerbs(CliContext c)
    {
        yield return WaitCommand.Create(c);
        yield return RenameCommand.Create(c);
        yield return RestartCommand.Create(c);
        yield return TopCommand.Create(c);
        yield return PortCommand.Create(c);
        yield return PauseCommand.Pause(c);
        yield return PauseCommand.Unpause(c);
        yield return ExportCommand.Create(c);
        yield return MountCommand.Mount(c);
        yield return MountCommand.Unmount(c);
        yield return CpCommand.Create(c);
    }

    /// <summary><c>wharf container …</c>: the same verbs, plus ls, prune and inspect.</summary>
    public static Command Group(CliContext c)
    {
        var group = new Command("container", "Manage containers");
        group.Add(RunCommand.Create(c, "run"));
        group.Add(CreateCommand.Create(c, "create"));
        group.Add(StartCommand.Create(c));
        group.Add(PsCommand.Create(c, "ps"));
        group.Add(PsCommand.Create(c, "ls", "list"));
        group.Add(LogsCommand.Create(c));
        group.Add(StopCommand.Create(c));
        group.Add(KillCommand.Create(c));
        group.Add(RmCommand.Create(c, "rm"));
        group.Add(ExecCommand.Create(c));
        group.Add(DiffCommand.Create(c));
        group.Add(CommitCommand.Create(c));
        group.Add(ContainerPruneCommand.Create(c));
        group.Add(ContainerInspectCommand.Create(c));
        group.Add(ExistsCommand.Container(c));
        group.Add(LogsCommand.Writer(c));
        group.Add(ExecCommand.DiedRecorder(c));
        foreach (var verb in MoreVerbs(c))
        {
            group.Add(verb);
        }

        return group;
    }
}
