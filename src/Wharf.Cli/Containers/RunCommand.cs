using System.CommandLine;
using Wharf.Engine;
using Wharf.Engine.Containers;

namespace Wharf.Cli.Containers;

/// <summary>The flags run and create share, and how they become <see cref="CreateOptions"/>.</summary>
internal sealed class CreateFlags
{
    public Argument<string> Image { get; } = new("IMAGE") { Description = "Image to run" };

    public Argument<string[]> Command { get; } = new("COMMAND") { Description = "Command and arguments", Arity = ArgumentArity.ZeroOrMore };

    public Option<bool> Interactive { get; } = new("--interactive", "-i") { Description = "Keep STDIN open even if not attached" };

    public Option<bool> Tty { get; } = new("--tty", "-t") { Description = "Allocate a pseudo-TTY for container" };

    public Option<bool> Remove { get; } = new("--rm") { Description = "Remove container and any anonymous unnamed volume associated with the container after exit" };

    public Option<string?> Name { get; } = new LastWinsOption("--name") { Description = "Assign a name to the container" };

    public Option<string[]> Env { get; } = new("--env", "-e") { Description = "Set environment variables in container", AllowMultipleArgumentsPerToken = false };

    public Option<string[]> EnvFile { get; } = new("--env-file") { Description = "Read in a file of environment variables" };

    public Option<string[]> Volume { get; } = new("--volume", "-v") { Description = "Bind mount a volume into the container (SRC:DST[:ro])" };

    public Option<string?> Workdir { get; } = new LastWinsOption("--workdir", "-w") { Description = "Working directory inside the container" };

    public Option<string?> User { get; } = new LastWinsOption("--user", "-u") { Description = "Username or UID (format: <name|uid>[:<group|gid>])" };

    public Option<string?> Entrypoint { get; } = new LastWinsOption("--entrypoint") { Description = "Overwrite the default ENTRYPOINT of the image" };

    public Option<string?> Network { get; } = new LastWinsOption("--network", "--net") { Description = "Connect a container to a network: slirp4netns (the default rootless), host (the default as root) or none" };

    public Option<string?> Hostname { get; } = new LastWinsOption("--hostname", "-h") { Description = "Set container hostname" };

    public Option<string?> Pull { get; } = new LastWinsOption("--pull") { Description = "Pull image policy: missing, always, never", DefaultValueFactory = _ => "missing" };

    public Option<string[]> Ulimit { get; } = new("--ulimit") { Description = "Ulimit options (clamped to this host's hard limits)" };

    public Option<string[]> Device { get; } = new("--device") { Description = "Add a host device or a CDI device (vendor.com/class=name)" };

    public Option<string?> UserNs { get; } = new LastWinsOption("--userns") { Description = "User namespace: host (the default: root inside is you) or keep-id (your own UID inside)" };

    public Option<bool> Quiet { get; } = new("--quiet", "-q") { Description = "Suppress output information when pulling images" };

    public Option<bool?> TlsVerify { get; } = CliContext.TlsVerifyOption();

    public Option<string?> AuthFile { get; } = CliContext.AuthFileOption();

    public Option<string?> Creds { get; } = CliContext.CredsOption();

    public Option<string[]> Label { get; } = new("--label", "-l") { Description = "Set metadata on container" };

    public Option<bool> EnvHost { get; } = new("--env-host") { Description = "Use all current host environment variables in container" };

    public Option<bool> Replace { get; } = new("--replace") { Description = "If a container with the same name exists, replace it" };

    public Option<string[]> Mount { get; } = new("--mount") { Description = "Attach a filesystem mount to the container (type=bind|volume|tmpfs,src=...,dst=...[,ro])" };

    public Option<string[]> Publish { get; } = new("--publish", "-p") { Description = "Publish a container's port to the host ([[IP:][HOSTPORT]:]CONTAINERPORT[/PROTOCOL]; rootless through slirp4netns)" };

    public Option<bool> PublishAll { get; } = new("--publish-all", "-P") { Description = "Publish all exposed ports to random ports on the host interfaces" };

    public Option<string?> Gpus { get; } = new LastWinsOption("--gpus") { Description = "GPUs to add through CDI (nvidia.com/gpu): all, a count, or device=ID[,ID]" };

    public RuntimeFlagOptions Runtime { get; } = new();

    public ResourceFlagOptions Resources { get; } = new();

    public RefusedRunFlags Refused { get; } = new();

    /// <summary>Every flag of run and create, in help order.</summary>
    public IEnumerable<Option> Options =>
        [Interactive, Tty, Remove, Name, Env, EnvFile, Volume, Workdir, User, Entrypoint, Network, Hostname, Pull, Ulimit, Device, UserNs, Quiet, TlsVerify, AuthFile, Creds, Label, EnvHost, Replace, Mount, Publish, PublishAll, Gpus, .. Runtime.Options, .. Resources.Options, .. Refused.Options];

    public void AddTo(Command command)
    {
        command.Add(Image);
        command.Add(Command);
        foreach (Option o in Options)
        {
            command.Add(o);
        }
    }

    public CreateOptions Read(ParseResult parse)
    {
        Refused.Refuse(parse);
        string image = parse.GetRequiredValue(Image);
        if (image.StartsWith('-'))
        {
            // A flag podman does not know either lands here as the image: say so as podman does.
            throw new WharfException(UsageErrors.UnknownFlag(image, UsageErrors.Path(parse))["Error: ".Length..]);
        }

        string pull = parse.GetValue(Pull) ?? "missing";
        if (pull is not ("missing" or "always" or "never" or "newer"))
        {
            throw new WharfException($"invalid pull policy \"{pull}\"");
        }

        return new CreateOptions
        {
            Image = image,
            Command = parse.GetValue(Command) ?? [],
            Interactive = parse.GetValue(Interactive),
            Tty = parse.GetValue(Tty),
            Remove = parse.GetValue(Remove),
            Name = parse.GetValue(Name),
            Env = parse.GetValue(Env) ?? [],
            EnvFiles = parse.GetValue(EnvFile) ?? [],
            Volumes = parse.GetValue(Volume) ?? [],
            Workdir = parse.GetValue(Workdir),
            User = parse.GetValue(User),
            Entrypoint = parse.GetValue(Entrypoint),
            Network = parse.GetValue(Network) ?? string.Empty,
            Hostname = parse.GetValue(Hostname),
            Pull = pull == "newer" ? "missing" : pull,
            Ulimits = parse.GetValue(Ulimit) ?? [],
            Devices = parse.GetValue(Device) ?? [],
            UserNs = parse.GetValue(UserNs) ?? string.Empty,
            Quiet = parse.GetValue(Quiet),
            TlsVerify = parse.GetValue(TlsVerify),
            AuthFile = parse.GetValue(AuthFile),
            Credentials = parse.GetValue(Creds),
            Labels = parse.GetValue(Label) ?? [],
            EnvHost = parse.GetValue(EnvHost),
            Replace = parse.GetValue(Replace),
            RuntimeFlags = Runtime.Read(parse),
            Resources = Resources.Read(parse),
            Mounts = parse.GetValue(Mount) ?? [],
            Publish = parse.GetValue(Publish) ?? [],
            PublishAll = parse.GetValue(PublishAll),
            Gpus = parse.GetValue(Gpus),
        };
    }
}

/// <summary><c>wharf run [flags] IMAGE [COMMAND [ARG...]]</c>: exits with the container's exit code.</summary>
public static class RunCommand
{
    public static Command Create(CliContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var flags = new CreateFlags();
        var detach = new Option<bool>("--detach", "-d") { Description = "Run container in background and print container ID" };
        var command = new Command(name, "Run a command in a new container");
        flags.AddTo(command);
        command.Add(detach);
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            bool d = parse.GetValue(detach);
            var (container, code) = await ContainerCli.Engine(context, parse).Lifecycle.RunAsync(flags.Read(parse), d, ct).ConfigureAwait(false);
            if (d)
            {
                await context.Out.WriteLineAsync(container.Id).ConfigureAwait(false);
            }

            return code;
        }));
        return command;
    }
}

/// <summary><c>wharf create</c>: prints the new container's ID.</summary>
public static class CreateCommand
{
    public static Command Create(CliContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var flags = new CreateFlags();
        var command = new Command(name, "Create but do not start a container");
        flags.AddTo(command);
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var c = await ContainerCli.Engine(context, parse).Creator.CreateAsync(flags.Read(parse), ct).ConfigureAwait(false);
            await context.Out.WriteLineAsync(c.Id).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}
