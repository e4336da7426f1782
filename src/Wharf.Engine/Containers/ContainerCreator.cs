using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Content.Layers;
using Wharf.Engine.Storage;

namespace Wharf.Engine.Containers;

public sealed record CreateOptions : RegistryAccess
{
    public required string Image { get; init; }

    /// <summary>The command after the image; empty means the image's Cmd.</summary>
    public IReadOnlyList<string> Command { get; init; } = [];

    public bool Interactive { get; init; }

    public bool Tty { get; init; }

    public bool Remove { get; init; }

    public string? Name { get; init; }

    public IReadOnlyList<string> Env { get; init; } = [];

    public IReadOnlyList<string> EnvFiles { get; init; } = [];

    public IReadOnlyList<string> Volumes { get; init; } = [];

    public string? Workdir { get; init; }

    public string? User { get; init; }

    /// <summary>null: the image's; empty: none; a JSON array or a single word.</summary>
    public string? Entrypoint { get; init; }

    /// <summary>
    /// host (HPC jobs use the host network), none, or slirp4netns; empty: the default of
    /// <c>wharf run</c>, which is slirp4netns rootless (podman's) and host as root.
    /// </summary>
    public string Network { get; init; } = "host";

    public string? Hostname { get; init; }

    /// <summary>missing, always, never (newer is treated as missing).</summary>
    public string Pull { get; init; } = "missing";

    public IReadOnlyList<string> Ulimits { get; init; } = [];

    public IReadOnlyList<string> Devices { get; init; } = [];

    /// <summary><c>--userns</c>: empty or <c>host</c> (the default: root inside is the user), or <c>keep-id</c>.</summary>
    public string UserNs { get; init; } = string.Empty;

    public bool Quiet { get; init; }

    /// <summary>podman's <c>--passwd-entry</c>: the /etc/passwd line for the user, added when the image has none for its UID.</summary>
    public string? PasswdEntry { get; init; }

    /// <summary>podman's <c>--ipc</c>: empty for a private IPC namespace, or <c>host</c> (the tasks of one MPI job share memory).</summary>
    public string Ipc { get; init; } = string.Empty;

    /// <summary>podman's <c>--group-entry</c>: /etc/group lines, each added when the image has none for its GID.</summary>
    public IReadOnlyList<string> GroupEntries { get; init; } = [];

    /// <summary><c>--label KEY[=VALUE]</c>: added to (and over) the image's labels.</summary>
    public IReadOnlyList<string> Labels { get; init; } = [];

    /// <summary><c>--env-host</c>: the caller's whole environment, after the image's, before --env-file and -e.</summary>
    public bool EnvHost { get; init; }

    /// <summary><c>--replace</c>: a container that already has the name is removed (stopped first) instead of refused.</summary>
    public bool Replace { get; init; }

    public RuntimeFlags RuntimeFlags { get; init; } = new();

    /// <summary>cgroup limits; a job under Slurm has none of its own (Slurm's cgroup holds it).</summary>
    public ResourceLimits Resources { get; init; } = new();

    /// <summary><c>--mount type=bind|volume|tmpfs,...</c> as typed.</summary>
    public IReadOnlyList<string> Mounts { get; init; } = [];

    /// <summary><c>-p</c> values as typed.</summary>
    public IReadOnlyList<string> Publish { get; init; } = [];

    /// <summary><c>-P</c>: every port the image exposes, each on a free host port.</summary>
    public bool PublishAll { get; init; }

    /// <summary><c>--gpus</c>: NVIDIA GPUs through their CDI spec.</summary>
    public string? Gpus { get; init; }
}

/// <summary>
/// create: resolves (or pulls) the image, writes the container's record with its spec inputs (env,
/// mounts, user, network, devices, limits), creates named volumes on first use and prepares the
/// root filesystem's directories. Part of <see cref="ContainerEngine"/>.
/// </summary>
public sealed partial class ContainerCreator : ContainerEnginePart
{
    private static readonly string[] ManagedFiles = ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run/.containerenv"];

    internal ContainerCreator(ContainerEngine engine)
        : base(engine)
    {
    }

    /// <summary>podman create: resolve (and pull) the image, unpack its layers, record the container.</summary>
    public async Task<ContainerRecord> CreateAsync(CreateOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        string network = options.Network switch
        {
            "" or "private" => !Env.IsRoot && Slirp.Unusable() is null ? Slirp.Mode : "host",
            "host" or "none" => options.Network,
            var n when Slirp.Is(n) => Slirp.Checked(n),
            _ => throw new WharfException($"network mode \"{options.Network}\" is not supported: use host, none or slirp4netns"),
        };
        if (options.UserNs is not ("" or "host" or "keep-id"))
        {
            throw new WharfException($"user namespace mode \"{options.UserNs}\" is not supported: use host or keep-id");
        }

        foreach (string u in options.Ulimits)
        {
            RuntimeSpec.ParseUlimit(u);
        }

        var mountOptions = options.Mounts.Select(MountOption.Parse).ToList();
        var tmpfsMounts = mountOptions.Where(m => m.Type == "tmpfs").Select(m => m.TmpfsSpec()).ToList();
        var runtimeFlags = tmpfsMounts.Count == 0 ? options.RuntimeFlags : options.RuntimeFlags with { Tmpfs = [.. options.RuntimeFlags.Tmpfs, .. tmpfsMounts] };
        runtimeFlags.Validate();
        if (options.Remove && runtimeFlags.Restart.Length > 0)
        {
            throw new WharfException("the --rm option conflicts with --restart, when the restartPolicy is not \"\" and \"no\"");
        }

        var devices = options.Devices.Concat(options.Gpus is { } gpus ? Cdi.GpuDevices(gpus) : []).ToList();
        var ports = options.Publish.Select(PortMapping.Parse).ToList();
        if (options.Resources.Any && ResourceLimits.UnsupportedReason(Env.IsRoot) is { } ignored)
        {
            Progress(ignored);
        }

        var image = await ResolveImageAsync(options, cancellationToken).ConfigureAwait(false);
        string driver = PreferredDriver;
        UnpackedImage? unpacked = null;
        JsonObject config;
        if (driver == "copy")
        {
            var manifest = Oci.ManifestParser.Parse(Images.Store.ReadBlob(image.Digest), image.ManifestMediaType);
            config = JsonNode.Parse(Images.Store.ReadBlob(manifest.Config!.Digest)) as JsonObject ?? [];
        }
        else
        {
            unpacked = await Layers.EnsureAsync(image, WhiteoutMode.Overlay, cancellationToken, Engine.Mounts.SquashfsLower).ConfigureAwait(false);
            config = unpacked.Config;
        }

        var run = ImageRunConfig(config);
        var env = MergeEnv(Strings(run["Env"]) ?? [], options);
        List<string>? entrypoint = options.Entrypoint switch
        {
            null => Strings(run["Entrypoint"]),
            "" => null,
            var e when e.TrimStart().StartsWith('[') => JsonSerializer.Deserialize(e, ContainerCliJson.Default.ListString),
            var e => [e],
        };
        List<string>? cmd = options.Command.Count > 0 ? [.. options.Command] : options.Entrypoint is null ? Strings(run["Cmd"]) : null;
        var argv = (entrypoint ?? []).Concat(cmd ?? []).ToList();
        if (argv.Count == 0)
        {
            throw new WharfException("no command or entrypoint provided, and no CMD or ENTRYPOINT from image");
        }

        var mounts = options.Volumes.Select(NamedVolumeToPath).Select(ParseVolume).ToList();
        foreach (var m in mountOptions.Where(m => m.Type != "tmpfs"))
        {
            // A volume without a source is an anonymous one, named by 64 random hex digits as podman's.
            string volume = m.Source ?? Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
            string source = m.Type == "volume"
                ? (Volumes.TryGet(volume) ?? Volumes.Create(volume, ignoreIfExists: true)).Mountpoint
                : ParseVolume(m.Source + ":" + m.Destination).Source;
            mounts.Add(new MountRecord(source, m.Destination, m.ReadOnly) { Propagation = m.Propagation });
        }

        if (options.PublishAll && run["ExposedPorts"] is JsonObject exposed)
        {
            foreach (var (port, _) in exposed)
            {
                string[] pp = port.Split('/');
                if (int.TryParse(pp[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int p) && ports.All(x => x.ContainerPort != p))
                {
                    string proto = pp.Length > 1 ? pp[1] : "tcp";
                    ports.Add(new PortMapping(string.Empty, PortMapping.FreePort(proto), p, proto));
                }
            }
        }

        if (ports.Count > 0 && !Slirp.Is(network))
        {
            // podman, too, publishes nothing on the host's network (every port already is the host's) or on none.
            Progress("Port mappings have been discarded as one of the Host, Container, Pod, and None network modes are in use");
            ports.Clear();
        }
        string id = ContainerStore.NewId();
        // podman: the container ID's first 12 characters (the guide's root@<id> prompt); the host's
        // name only when --network host was asked for, not when wharf falls back to the host's network.
        string hostname = options.Hostname ?? (options.Network == "host" ? Environment.MachineName : id[..12]);
        var managed = ManagedFiles.Where(f => !(f == "/etc/resolv.conf" && network == "none")).ToList();
        var labels = run["Labels"] is JsonObject l ? l.ToDictionary(kv => kv.Key, kv => kv.Value?.GetValue<string>() ?? string.Empty) : null;
        foreach (string label in options.Labels)
        {
            // podman: "KEY=VALUE", or "KEY" alone for an empty value; a later one wins.
            string[] kv = label.Split('=', 2);
            (labels ??= [])[kv[0]] = kv.Length > 1 ? kv[1] : string.Empty;
        }

        if (options.Replace && options.Name is { } replaced && Store.List().FirstOrDefault(c => c.Name == replaced) is { } old)
        {
            Engine.Lifecycle.Remove(old, force: true);
        }

        var record = Store.Locked(() =>
        {
            var existing = Store.List();
            string name = options.Name ?? NewName(existing);
            if (existing.FirstOrDefault(c => c.Name == name) is { } clash)
            {
                throw new WharfException(
                    $"creating container storage: the container name \"{name}\" is already in use by {clash.Id}. You have to remove that container to be able to reuse that name: that name is already in use");
            }

            var c = new ContainerRecord
            {
                Id = id,
                Name = name,
                ImageName = image.Names.FirstOrDefault() ?? image.Id,
                ImageId = image.Id,
                Command = argv,
                Created = Now,
                AutoRemove = options.Remove,
                Terminal = options.Tty,
                RootfsDriver = driver,
                LowerDirs = unpacked is null ? [] : [.. unpacked.LayerDirs.Reverse()],
                ManagedMounts = managed,
                Mounts = mounts,
                StopSignal = run["StopSignal"]?.GetValue<string>() is { Length: > 0 } s ? s : "SIGTERM",
                RuntimeFlags = runtimeFlags,
                Resources = options.Resources,
                Ports = ports,
                CreateWorkingDir = options.Workdir is null,
                Settings = new ContainerSettings
                {
                    Env = env,
                    Cmd = cmd,
                    Entrypoint = entrypoint,
                    WorkingDir = options.Workdir ?? (run["WorkingDir"]?.GetValue<string>() is { Length: > 0 } w ? w : "/"),
                    User = options.User ?? run["User"]?.GetValue<string>() ?? string.Empty,
                    Labels = labels,
                    ExposedPorts = run["ExposedPorts"] is JsonObject p ? [.. p.Select(kv => kv.Key)] : null,
                    Volumes = run["Volumes"] is JsonObject v ? [.. v.Select(kv => kv.Key)] : null,
                    Hostname = hostname,
                    Network = network,
                    Ulimits = [.. options.Ulimits],
                    Devices = devices,
                    UserNs = options.UserNs == "keep-id" ? "keep-id" : string.Empty,
                    Interactive = options.Interactive,
                    PasswdEntry = options.PasswdEntry,
                    // --ipc host from run and from a job's tasks take one path: RuntimeSpec binds the host's
                    // /dev/shm and /dev/mqueue with it.
                    Ipc = options.Ipc == "host" || options.RuntimeFlags.Ipc == "host" ? "host" : null,
                    GroupEntries = options.GroupEntries.Count > 0 ? [.. options.GroupEntries] : null,
                },
            };
            Store.Write(c);
            Event("create", c);
            return c;
        });

        try
        {
            WriteUserData(record);
            if (driver == "copy")
            {
                await Layers.ApplyAllAsync(image, Store.CopyRootfs(id), cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            Engine.Lifecycle.RemoveFiles(record);
            throw;
        }

        return record;
    }

    private async Task<ImageRecord> ResolveImageAsync(CreateOptions options, CancellationToken cancellationToken)
    {
        // Exact names, IDs and localhost/ names first: registries.conf (and its alias files) is read
        // only when a short name is not found that way.
        ImageRecord? found = options.Pull != "always" ? Lookup(options) : null;

        if (found is not null)
        {
            return found;
        }

        if (options.Pull == "never")
        {
            throw new WharfException($"{options.Image}: image not known");
        }

        // One fetch per node: the tasks of a job that start together with an image this store
        // lacks queue on a lock (flock: a killed holder releases it); the first pulls and unpacks,
        // the others then find it. A failed fetch leaves the next waiter to try.
        string lockPath = Images.Store.FetchLockPath(options.Image);
        Images.DebugLog?.Invoke($"Waiting for the fetch lock of {options.Image} ({lockPath})");
        using var fetching = await FileLock.AcquireAsync(lockPath, $"fetching {options.Image}", TimeSpan.FromHours(2), cancellationToken).ConfigureAwait(false);
        if (options.Pull != "always" && Lookup(options) is { } fetched)
        {
            return fetched;
        }

        var report = await Images.Registry.PullAsync(new PullOptions
        {
            Reference = options.Image,
            Quiet = options.Quiet,
            TlsVerify = options.TlsVerify,
            AuthFile = options.AuthFile,
            Credentials = options.Credentials,
        }, cancellationToken).ConfigureAwait(false);
        var pulled = Images.Store.ReadImages().First(i => i.Id == report.ImageId);
        if (PreferredDriver != "copy")
        {
            // Unpacked under the lock too, so the waiters reuse the layers instead of unpacking them again.
            await Layers.EnsureAsync(pulled, WhiteoutMode.Overlay, cancellationToken).ConfigureAwait(false);
        }

        return pulled;
    }

    private ImageRecord? Lookup(CreateOptions options)
    {
        var images = Images.Store.ReadImages();
        if (options.Image.Contains('@', StringComparison.Ordinal))
        {
            // A pinned digest (a job's image) is the same content wherever it is: the read-only
            // stores' copy first, so a node's start takes its layers from there (docs/shared-store.md).
            images = [.. images.OrderBy(i => i.ReadOnly ? 0 : 1)];
        }

        var found = ImageNames.Lookup(images, options.Image, []);
        if (found is null && Oci.Reference.TryParse(ImageNames.StripTransport(options.Image), out var reference, out _) && reference.Domain is null)
        {
            found = ImageNames.Lookup(images, options.Image, Images.Registries.UnqualifiedSearchRegistries);
        }

        return found;
    }

    private static string NewName(List<ContainerRecord> existing)
    {
        for (int i = 0; ; i++)
        {
            string name = ContainerNames.Generate();
            if (existing.All(c => c.Name != name) || i > 100)
            {
                return name;
            }
        }
    }

    /// <summary>Image Env, then TERM and container as podman adds them, then --env-file and -e (a later key replaces an earlier one).</summary>
    private List<string> MergeEnv(List<string> imageEnv, CreateOptions options)
    {
        var env = new List<string>(imageEnv);
        void Set(string entry) => EnvFile.Set(env, entry, Env.Get);

        if (!env.Any(e => e.StartsWith("PATH=", StringComparison.Ordinal)))
        {
            env.Insert(0, "PATH=" + RootfsPaths.DefaultPath);
        }

        if (options.EnvHost)
        {
            foreach (System.Collections.DictionaryEntry v in Environment.GetEnvironmentVariables())
            {
                Set($"{v.Key}={v.Value}");
            }
        }

        Set("TERM=xterm");
        Set("container=podman");
        foreach (string file in options.EnvFiles)
        {
            foreach (string entry in EnvFile.Read(file, Env.Get, EnvFile.ProcessEnvironment))
            {
                Set(entry);
            }
        }

        foreach (string e in options.Env)
        {
            Set(e);
        }

        return env;
    }

    /// <summary><c>-v SRC:DST[:ro|rw]</c>: SRC must be an existing absolute host path (a named volume was turned into its data path before).</summary>
    private static MountRecord ParseVolume(string spec)
    {
        string[] parts = spec.Split(':');
        if (parts.Length is < 2 or > 3 || parts[1].Length == 0 || !parts[1].StartsWith('/'))
        {
            throw new WharfException($"invalid volume specification \"{spec}\": expected SRC:DST[:ro|rw] with an absolute DST");
        }

        if (!parts[0].StartsWith('/') && !parts[0].StartsWith('.'))
        {
            throw new WharfException($"named volume \"{parts[0]}\" is not supported: give a host path");
        }

        string source = Path.GetFullPath(parts[0]);
        if (!File.Exists(source) && !Directory.Exists(source))
        {
            throw new WharfException($"statfs {source}: no such file or directory");
        }

        bool ro = false;
        if (parts.Length == 3)
        {
            foreach (string o in parts[2].Split(','))
            {
                if (o == "ro")
                {
                    ro = true;
                }
                else if (o is not ("rw" or "z" or "Z" or "rbind" or "bind" or "rprivate" or "private"))
                {
                    throw new WharfException($"invalid volume option \"{o}\" in \"{spec}\"");
                }
            }
        }

        return new MountRecord(source, parts[1], ro);
    }

    /// <summary>/etc/hosts, /etc/hostname, /etc/resolv.conf and /run/.containerenv, bind-mounted from userdata/.</summary>
    private void WriteUserData(ContainerRecord c)
    {
        string dir = Store.UserData(c.Id);
        Directory.CreateDirectory(dir);
        string hosts = File.Exists("/etc/hosts") ? File.ReadAllText("/etc/hosts") : "127.0.0.1\tlocalhost\n";
        if (!hosts.EndsWith('\n'))
        {
            hosts += "\n";
        }

        hosts += c.Settings.Network == "host"
            ? $"127.0.0.1\thost.containers.internal\n"
            : $"127.0.0.1\t{c.Id[..12]} {c.Name}\n";
        File.WriteAllText(Path.Combine(dir, "hosts"), hosts);
        File.WriteAllText(Path.Combine(dir, "hostname"), c.Settings.Hostname + "\n");
        if (c.ManagedMounts.Contains("/etc/resolv.conf"))
        {
            string resolv = File.Exists("/etc/resolv.conf") ? File.ReadAllText("/etc/resolv.conf") : string.Empty;
            if (Slirp.Is(c.Settings.Network))
            {
                // The container reaches no host address directly: slirp4netns forwards DNS from its own.
                resolv = string.Join('\n', resolv.Split('\n').Where(l => !l.TrimStart().StartsWith("nameserver", StringComparison.Ordinal)).Prepend("nameserver " + Slirp.Nameserver)) + "\n";
            }

            File.WriteAllText(Path.Combine(dir, "resolv.conf"), resolv);
        }

        // podman 4.3 fills .containerenv only for a --privileged container; others get it empty.
        // The engine key is podman's, its value says wharf.
        File.WriteAllText(Path.Combine(dir, ".containerenv"), c.RuntimeFlags.Privileged
            ? $"engine=\"wharf-{ImageEngine.Version}\"\nname=\"{c.Name}\"\nid=\"{c.Id}\"\nimage=\"{c.ImageName}\"\nimageid=\"{c.ImageId}\"\nrootless={(Env.IsRoot ? 0 : 1)}\n"
            : string.Empty);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(List<string>))]
internal sealed partial class ContainerCliJson : System.Text.Json.Serialization.JsonSerializerContext;
