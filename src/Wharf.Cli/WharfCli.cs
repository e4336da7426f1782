using System.CommandLine;
using Wharf.Cli.Containers;
using Wharf.Cli.Images;
using Wharf.Cli.SystemCommands;
using Wharf.Client;
using Wharf.Content;
using Wharf.Engine;

namespace Wharf.Cli;

/// <summary>The command tree: podman's verbs and global flags. Commands parse and print; the engine does the work.</summary>
public static class WharfCli
{
    public static async Task<int> InvokeAsync(string[] args, CliIo io)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(io);
        if (args.TakeWhile(a => a != "--").Contains("--noout"))
        {
            // podman --noout: the command runs, its standard output goes nowhere (errors still show).
            io = new CliIo
            {
                Out = TextWriter.Null, Err = io.Err, In = io.In, OpenStdout = () => Stream.Null, OpenStdin = io.OpenStdin,
                StdinIsTerminal = io.StdinIsTerminal, StdoutIsTerminal = false, StderrIsTerminal = io.StderrIsTerminal,
                Environment = io.Environment, Transport = io.Transport,
            };
        }

        var context = new CliContext(io);
        var root = new RootCommand("Manage images and registries, the podman way")
        {
            context.RootOption,
            context.RunRootOption,
            context.StorageDriverOption,
            context.LogLevelOption,
            context.NoOutOption,
            context.EventsBackendOption,
            context.RuntimeOption,
            context.RuntimeFlagOption,
            context.CgroupManagerOption,
            context.StorageOptOption,
            context.VolumePathOption,
            context.TmpDirOption,
        };

        var image = new Command("image", "Manage images");
        foreach (var (top, sub) in ImageCommands(context))
        {
            if (top is not null)
            {
                root.Add(top);
            }

            image.Add(sub);
        }

        image.Add(ExistsCommand.Image(context));
        image.Add(HistoryCommand.Create(context, "history"));
        root.Add(HistoryCommand.Create(context, "history"));
        image.Add(ImportCommand.Create(context, "import"));
        image.Add(PublishCommand.Publish(context));
        image.Add(PublishCommand.Unpublish(context));
        image.Add(MirrorCommand.Create(context));
        root.Add(ImportCommand.Create(context, "import"));
        root.Add(image);
        root.Add(InspectCommand.Create(context, "inspect"));
        root.Add(LoginCommand.Create(context));
        root.Add(LogoutCommand.Create(context));
        root.Add(SearchCommand.Create(context));
        root.Add(VersionCommand.Create(context));
        root.Add(InfoCommand.Create(context));
        root.Add(EventsCommand.Create(context));
        var system = new Command("system", "Manage wharf")
        {
            EventsCommand.Create(context),
            DfCommand.Create(context),
            CheckCommand.Create(context),
            ResetCommand.Create(context),
            SystemPruneCommand.Create(context),
            InfoCommand.Create(context),
        };
        root.Add(system);
        foreach (var verb in ContainerCli.TopLevel(context))
        {
            root.Add(verb);
        }

        root.Add(ContainerCli.Group(context));
        root.Add(Volumes.VolumeCli.Group(context));
        root.Add(Jobs.JobCli.Group(context));
        root.Add(CompletionCommand.Create(context));
        root.Add(HelpCommand.Create(context, InvokeAsync));
        RefusedVerbs.AddTo(root, RefusedVerbs.TopLevel, context);
        RefusedVerbs.AddTo(image, RefusedVerbs.Image, context);
        RefusedVerbs.AddTo(system, RefusedVerbs.System, context);
        RefusedVerbs.AddTo(root.Subcommands.First(c => c.Name == "container"), RefusedVerbs.Container, context);
        RefusedVerbs.AddTo(root.Subcommands.First(c => c.Name == "volume"), RefusedVerbs.Volume, context);
        RefusedFlags.AddTo(root);
        if (args is [CompletionCommand.CallbackVerb, .. var words])
        {
            return await CompletionCommand.CompleteAsync(root, words, io.Out).ConfigureAwait(false);
        }

        string[] typed = args;
        args = ContainerCli.SplitCommand(args);

        var parse = root.Parse(args);

        // A podman flag wharf refuses is named as such, even where the rest of the line (the
        // arguments it would make optional, as volume rm --all) does not parse.
        if (RefusedFlags.Find(parse) is { } refusedFlag)
        {
            await io.Err.WriteLineAsync($"Error: {refusedFlag} is not supported by wharf").ConfigureAwait(false);
            return 125;
        }

        if (parse.Errors.Count > 0)
        {
            await io.Err.WriteLineAsync(UsageErrors.Describe(parse)).ConfigureAwait(false);
            return 125;
        }

        // A positional argument that looks like a flag is a flag this command does not have
        // (unless it follows "--": a container's command, for one).
        if (!args.Contains("--") && !RefusedVerbs.IsRefused(parse.CommandResult.Command) && UnknownFlag(parse) is { } flag)
        {
            await io.Err.WriteLineAsync(UsageErrors.UnknownFlag(flag, UsageErrors.Path(parse))).ConfigureAwait(false);
            return 125;
        }

        if (parse.GetValue(context.LogLevelOption) is { } level)
        {
            if (!LogLevels.Contains(level))
            {
                // podman's words and exit code (logrus setup fails before any verb, without "Error:").
                await io.Err.WriteLineAsync($"Log Level \"{level}\" is not supported, choose from: trace, debug, info, warn, warning, error, fatal, panic").ConfigureAwait(false);
                return 1;
            }

            if (level is "info" or "debug" or "trace")
            {
                context.LogLine("info", $"wharf filtering at log level {level}");
                if (level != "info")
                {
                    context.Verbose = true;
                    context.LogLine("debug", $"Called {parse.CommandResult.Command.Name}.PersistentPreRunE(wharf {string.Join(' ', typed)})");
                }
            }
        }

        var config = new InvocationConfiguration { Output = io.Out, Error = io.Err, EnableDefaultExceptionHandler = false };
        if (Jobs.JobCli.HandlesSignals(parse))
        {
            // Their own TERM/INT handling ends them cleanly; System.CommandLine's would race it.
            config.ProcessTerminationTimeout = null;
        }

        return await parse.InvokeAsync(config).ConfigureAwait(false);
    }

    private static readonly string[] LogLevels = ["trace", "debug", "info", "warn", "warning", "error", "fatal", "panic"];

    private static string? UnknownFlag(ParseResult parse)
    {
        foreach (var child in parse.CommandResult.Children)
        {
            if (child is System.CommandLine.Parsing.ArgumentResult argument)
            {
                foreach (var token in argument.Tokens)
                {
                    if (token.Value.Length > 1 && token.Value[0] == '-')
                    {
                        return token.Value.Split('=')[0];
                    }
                }
            }
        }

        return null;
    }

    private static IEnumerable<(Command? Top, Command Sub)> ImageCommands(CliContext c)
    {
        yield return (PullCommand.Create(c, "pull"), PullCommand.Create(c, "pull"));
        yield return (ImagesCommand.Create(c, "images"), ImagesCommand.Create(c, "ls", "list"));
        yield return (TagCommand.Create(c, "tag"), TagCommand.Create(c, "tag"));
        yield return (UntagCommand.Create(c, "untag"), UntagCommand.Create(c, "untag"));
        yield return (PushCommand.Create(c, "push"), PushCommand.Create(c, "push"));
        yield return (RmiCommand.Create(c, "rmi"), RmiCommand.Create(c, "rm"));
        yield return (null, InspectCommand.Create(c, "inspect", fixedType: "image"));
        yield return (null, PruneCommand.Create(c));
        yield return (SaveCommand.Create(c, "save"), SaveCommand.Create(c, "save"));
        yield return (LoadCommand.Create(c, "load"), LoadCommand.Create(c, "load"));
        yield return (null, SearchCommand.Create(c));
        yield return (BuildCommand.Create(c, "build"), BuildCommand.Create(c, "build"));
    }
}

/// <summary>What every command shares: the streams, global flags and the one place errors are printed.</summary>
public sealed class CliContext
{
    public CliContext(CliIo io)
    {
        Io = io;
    }

    public CliIo Io { get; }

    public TextWriter Out => Io.Out;

    public TextWriter Err => Io.Err;

    public Option<string?> RootOption { get; } = new("--root") { Description = "Path to the graph root directory", Recursive = true };

    public Option<string?> RunRootOption { get; } = new("--runroot") { Description = "Path to the 'run directory'", Recursive = true };

    public Option<string?> StorageDriverOption { get; } = new("--storage-driver") { Description = "Accepted for compatibility; wharf keeps blobs as fetched", Recursive = true };

    public Option<string?> LogLevelOption { get; } = new("--log-level") { Description = "Log messages above specified level (trace, debug, info, warn, warning, error, fatal, panic)", Recursive = true };

    /// <summary><c>--log-level debug</c> or <c>trace</c>: the engine's debug lines go to stderr.</summary>
    public bool Verbose { get; set; }

    /// <summary>One logrus-style line on stderr: <c>time="…" level=debug msg="…"</c>.</summary>
    public void LogLine(string level, string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        string time = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        Err.WriteLine($"time=\"{time}\" level={level} msg=\"{message.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\"");
        Err.Flush();
    }

    public Option<bool> NoOutOption { get; } = new("--noout") { Description = "Do not output to stdout", Recursive = true };

    public Option<string?> EventsBackendOption { get; } = new("--events-backend") { Description = "Events backend to use (file, none)", Recursive = true };

    public Option<string?> RuntimeOption { get; } = new("--runtime") { Description = "Path to the OCI runtime (runc, crun)", Recursive = true };

    public Option<string[]> RuntimeFlagOption { get; } = new("--runtime-flag") { Description = "add global flags for the container runtime", Recursive = true };

    public Option<string?> CgroupManagerOption { get; } = new("--cgroup-manager") { Description = "Cgroup manager to use (cgroupfs or systemd); wharf lets the runtime place containers", Recursive = true };

    public Option<string[]> StorageOptOption { get; } = new("--storage-opt") { Description = "Used to pass an option to the storage driver (overlay.mount_program=PATH of fuse-overlayfs)", Recursive = true };

    public Option<string?> VolumePathOption { get; } = new("--volumepath") { Description = "Path to the volume directory in which volume data is stored", Recursive = true };

    public Option<string?> TmpDirOption { get; } = new("--tmpdir") { Description = "Path to the tmp directory (accepted: wharf keeps its state under --runroot)", Recursive = true };

    public ImageEngine Engine(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        CheckGlobalFlags(parse);
        string? volumePath = parse.GetValue(VolumePathOption);
        return new ImageEngine(new EngineOptions
        {
            RuntimeFlags = parse.GetValue(RuntimeFlagOption) ?? [],
            VolumePath = string.IsNullOrEmpty(volumePath) ? null : Path.GetFullPath(volumePath),
            RootfsDriver = RootfsDriverOf(parse.GetValue(StorageOptOption) ?? []),
            EventsBackend = parse.GetValue(EventsBackendOption) ?? "file",
            Debug = Verbose ? m => LogLine("debug", m) : null,
            Runtime = parse.GetValue(RuntimeOption),
            Environment = Io.Environment,
            Root = parse.GetValue(RootOption),
            RunRoot = parse.GetValue(RunRootOption),
            Progress = Io.Err,
            Transport = Io.Transport,
            TransferProgress = Io.StderrIsTerminal ? new Output.TerminalProgress(Io.Err) : null,
        });
    }

    /// <summary>The global flags wharf refuses, or whose values it checks, as podman checks them before any verb runs.</summary>
    private void CheckGlobalFlags(ParseResult parse)
    {
        if (parse.GetValue(EventsBackendOption) is { } backend && backend is not ("file" or "none"))
        {
            throw backend == "journald"
                ? new WharfException("--events-backend journald is not supported by wharf: events are kept in a file (file, none)")
                : new WharfException($"configuring runtime: \"{backend}\" is not a valid events backend: invalid argument");
        }

        if (parse.GetValue(CgroupManagerOption) is { } manager && manager is not ("cgroupfs" or "systemd"))
        {
            throw new WharfException("configuring runtime: cgroup manager must be one of cgroupfs and systemd: invalid argument");
        }

        if (parse.GetValue(RuntimeFlagOption)?.FirstOrDefault(f => f.Length == 0 || f.StartsWith('-')) is { } badFlag)
        {
            // podman passes "--" + the value; a value with its own dashes would reach the runtime as "---x".
            throw new WharfException($"--runtime-flag \"{badFlag}\": give the runtime's flag without its leading -- (--runtime-flag debug, --runtime-flag log=FILE)");
        }

        RootfsDriverOf(parse.GetValue(StorageOptOption) ?? []);
    }

    /// <summary>
    /// The <c>--storage-opt</c>s wharf understands: <c>overlay.mount_program</c> naming fuse-overlayfs
    /// (containers' roots mounted with it, as podman's overlay driver does with a mount program), and
    /// an empty value (podman's way to drop storage.conf's options; wharf reads none). Any other
    /// option is refused: wharf's layers are unpacked directories, not a graph driver with options.
    /// </summary>
    private static string? RootfsDriverOf(string[] options)
    {
        string? driver = null;
        foreach (string option in options.Where(o => o.Length > 0))
        {
            int eq = option.IndexOf('=', StringComparison.Ordinal);
            string key = (eq < 0 ? option : option[..eq]).Trim().ToLowerInvariant();
            string value = eq < 0 ? string.Empty : option[(eq + 1)..].Trim();
            if (key is "overlay.mount_program" or ".mount_program" or "mount_program")
            {
                if (Path.GetFileName(value) != "fuse-overlayfs")
                {
                    throw new WharfException($"--storage-opt {option} is not supported by wharf: the only mount program it drives is fuse-overlayfs");
                }

                if (!File.Exists(value))
                {
                    throw new WharfException($"--storage-opt {option}: {value}: no such file");
                }

                driver = "fuse-overlayfs";
                continue;
            }

            throw new WharfException($"--storage-opt {option} is not supported by wharf: of the storage driver's options it understands overlay.mount_program (fuse-overlayfs) only");
        }

        return driver;
    }

    /// <summary>Runs a command body; a failure becomes one <c>Error: …</c> line and podman's exit code.</summary>
    public async Task<int> RunAsync(Func<Task<int>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (WharfException e)
        {
            await Err.WriteLineAsync("Error: " + e.Message).ConfigureAwait(false);
            return e.ExitCode;
        }
        // JsonException: a damaged manifest or config met where no reader names it better is still
        // one line and exit 125, never a stack trace.
        catch (Exception e) when (e is RegistryException or ContentException or IOException or UnauthorizedAccessException or InvalidDataException or FormatException or HttpRequestException
            or System.Text.Json.JsonException)
        {
            await Err.WriteLineAsync("Error: " + e.Message).ConfigureAwait(false);
            return 125;
        }
    }

    public int Run(Func<int> body) => RunAsync(() => Task.FromResult(body())).GetAwaiter().GetResult();

    public static Option<bool?> TlsVerifyOption() => BoolValueOption("--tls-verify", "Require HTTPS and verify certificates when contacting registries");

    /// <summary>A boolean flag that also takes <c>=true</c>/<c>=false</c>, as pflag's do.</summary>
    public static Option<bool?> BoolValueOption(string name, string description) => new(name)
    {
        Description = description,
        Arity = ArgumentArity.ZeroOrOne,
        CustomParser = r =>
        {
            if (r.Tokens.Count == 0)
            {
                return true;
            }

            if (bool.TryParse(r.Tokens[0].Value, out bool b))
            {
                return b;
            }

            r.AddError($"invalid argument \"{r.Tokens[0].Value}\" for \"{name}\" flag: strconv.ParseBool: parsing \"{r.Tokens[0].Value}\": invalid syntax");
            return null;
        },
    };

    public static Option<string?> AuthFileOption() => new("--authfile") { Description = "Path of the authentication file" };

    public static Option<string?> CertDirOption() => new("--cert-dir") { Description = "Use certificates at the specified path to access the registry" };

    public static Option<string?> CredsOption() => new("--creds") { Description = "Credentials (USERNAME:PASSWORD) to use for authenticating to a registry" };
}
