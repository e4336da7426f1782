using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Wharf.Content.Layers;
using Wharf.Engine.Containers;
using Wharf.Engine.Images;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine.Build;

/// <summary>
/// One run of a Dockerfile: what every step needs (the options, the context, the stages built so
/// far, the build args seen) is held here once instead of being passed to each step. Each
/// instruction of each stage is committed as an intermediate (unnamed) image, so RUN can start a
/// container from the one before and the layer cache can hand back an earlier result. Metadata
/// instructions add a history entry; COPY, ADD and RUN add a layer.
/// </summary>
internal sealed class BuildSession
{
    private readonly ContainerEngine _containers;
    private readonly BuildOptions _options;
    private readonly ImageFormat _format;
    private readonly IProgressSink _progress;
    private readonly ImageWriter _writer;
    private readonly BuildCache _cache;
    private readonly Dockerfile _dockerfile;
    private readonly IReadOnlyList<Stage> _stages;
    private readonly string _context;
    private readonly ContextIgnore _ignore;

    /// <summary>Scratch space for staged COPY sources and unpacked --from roots; the caller removes it.</summary>
    private readonly string _work;

    /// <summary>Stage index → the image it produced, for FROM and COPY --from of a later stage.</summary>
    private readonly Dictionary<int, string> _results = [];

    /// <summary>ARGs before the first FROM: usable in FROM lines and as defaults of a stage's ARG.</summary>
    private readonly Dictionary<string, string> _globals = new(StringComparer.Ordinal);

    /// <summary>--build-arg names some ARG declared; the rest are warned about at the end.</summary>
    private readonly HashSet<string> _consumed = new(StringComparer.Ordinal);

    /// <summary>Every image this build committed, so a build without --layers can remove its intermediates.</summary>
    private readonly List<string> _committed = [];

    /// <summary>Image ID → its root unpacked under the work directory, for COPY --from (once per build).</summary>
    private readonly Dictionary<string, string> _fromRoots = new(StringComparer.Ordinal);

    public BuildSession(ContainerEngine containers, BuildOptions options, ImageFormat format, Dockerfile dockerfile, IReadOnlyList<Stage> stages, string context, string work)
    {
        _containers = containers;
        _options = options;
        _format = format;
        _progress = options.Progress;
        _writer = new ImageWriter(containers.Images.Store);
        _cache = new BuildCache(Path.Combine(Store.Root, "build-cache.json"));
        _dockerfile = dockerfile;
        _stages = stages;
        _context = context;
        _ignore = ContextIgnore.Load(context);
        _work = work;
    }

    private ImageStore Store => _containers.Images.Store;

    private char Escape => _dockerfile.Escape;

    /// <summary>
    /// Intermediate images are kept and cached (--layers, podman's default); --squash and
    /// --squash-all imply no layers, as in podman.
    /// </summary>
    private bool KeepLayers => _options.Layers && _options.Squash == SquashMode.None;

    /// <summary>Per-stage state: the image so far (null while nothing is committed after FROM scratch).</summary>
    private sealed class StageState
    {
        public required ImageConfig Config { get; set; }

        public List<Descriptor> Layers { get; } = [];

        public string ParentKey { get; set; } = "scratch";

        public string? ImageId { get; set; }

        public Dictionary<string, string> Args { get; } = new(StringComparer.Ordinal);

        /// <summary>The FROM image (null for scratch) and how many layers and history entries it brought: what --squash keeps.</summary>
        public string? BaseImageId { get; set; }

        public int BaseLayers { get; set; }

        public int BaseHistory { get; set; }

        /// <summary>The config's <c>config</c> object; setting it replaces that object in <see cref="Config"/>.</summary>
        public ContainerConfig Run
        {
            get => Config.Config ?? new ContainerConfig();
            set => Config = Config with { Config = value };
        }

        public string? EnvValue(string name) => Run.EnvValue(name);

        public string? Lookup(string name) => EnvValue(name) ?? Args.GetValueOrDefault(name);
    }

    /// <summary>Builds stages 0..<paramref name="last"/>; the last one is tagged and reported.</summary>
    public async Task<BuildReport> RunAsync(int last, CancellationToken cancellationToken)
    {
        var names = _options.Tags.Select(ImageNames.ForNewImage).ToList();
        foreach (var arg in _dockerfile.GlobalArgs)
        {
            foreach (var (k, v) in ArgPairs(arg, n => _globals.GetValueOrDefault(n), Escape))
            {
                if (_options.BuildArgs.TryGetValue(k, out string? given))
                {
                    _consumed.Add(k);
                    _globals[k] = given;
                }
                else if (v is not null)
                {
                    _globals[k] = v;
                }
            }
        }

        string? final = null;
        try
        {
            final = await RunStagesAsync(last, names, cancellationToken).ConfigureAwait(false);
            return new BuildReport(final, names);
        }
        finally
        {
            if (!KeepLayers)
            {
                RemoveIntermediates(final);
            }
        }
    }

    private async Task<string> RunStagesAsync(int last, List<string> names, CancellationToken cancellationToken)
    {
        bool multi = last > 0;
        for (int si = 0; si <= last; si++)
        {
            var stage = _stages[si];
            string prefix = multi ? $"[{si + 1}/{last + 1}] " : string.Empty;
            int total = stage.Instructions.Count + 1;
            Say($"{prefix}STEP 1/{total}: FROM {Words.Expand(stage.From.Arguments, n => _globals.GetValueOrDefault(n), Escape)}");
            var state = await FromAsync(stage, cancellationToken).ConfigureAwait(false);
            await OnBuildAsync(state, stage, cancellationToken).ConfigureAwait(false);
            for (int ii = 0; ii < stage.Instructions.Count; ii++)
            {
                var ins = stage.Instructions[ii];
                Say($"{prefix}STEP {ii + 2}/{total}: {ins.Original.Replace("\n", string.Empty, StringComparison.Ordinal)}");
                bool lastStep = si == last && ii == stage.Instructions.Count - 1;
                await StepAsync(ins, state, stage, cancellationToken).ConfigureAwait(false);
                if (!lastStep && KeepLayers)
                {
                    Say($"--> {state.ImageId![..11]}");
                }
            }

            if (si == last)
            {
                if (state.ImageId is null || stage.Instructions.Count == 0)
                {
                    await CommitAsync(state, null, cancellationToken).ConfigureAwait(false);
                }

                if (_options.Squash != SquashMode.None)
                {
                    await SquashAsync(state, cancellationToken).ConfigureAwait(false);
                }

                if (_options.Annotations.Count > 0 && _format == ImageFormat.Oci)
                {
                    // Annotations live in the manifest, so the final image is written once more with them.
                    await CommitAsync(state, null, _options.Annotations, cancellationToken).ConfigureAwait(false);
                }

                Say($"{prefix}COMMIT {string.Join(' ', _options.Tags)}".TrimEnd());
                Say($"--> {state.ImageId![..11]}");
                Tag(state.ImageId, names);
                foreach (string n in names)
                {
                    Say($"Successfully tagged {n}");
                }

                var unused = _options.BuildArgs.Keys.Where(k => !_consumed.Contains(k)).Order(StringComparer.Ordinal).ToList();
                if (unused.Count > 0)
                {
                    _progress.Warning($"one or more build args were not consumed: [{string.Join(' ', unused)}]");
                }

                return state.ImageId!;
            }

            if (state.ImageId is null)
            {
                await CommitAsync(state, null, cancellationToken).ConfigureAwait(false);
                if (KeepLayers)
                {
                    Say($"--> {state.ImageId![..11]}");
                }
            }

            _results[si] = state.ImageId!;
        }

        throw new InvalidOperationException("unreachable: the target stage returns");
    }

    private void Say(string line) => _progress.Step(line);

    /// <summary>Without --layers nothing but the built image stays: the images of the steps and stages go (their blobs with them when unshared).</summary>
    private void RemoveIntermediates(string? final)
    {
        var names = Store.ReadImages().Where(i => i.Names.Count > 0).Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
        var ids = _committed.Where(id => id != final && !names.Contains(id)).Distinct().ToList();
        if (ids.Count == 0)
        {
            return;
        }

        try
        {
            _containers.Images.Local.RemoveImages(new RemoveImagesOptions { Images = ids, Force = true });
        }
        catch (Exception e) when (e is WharfException or RemoveImagesPartialException)
        {
            // An intermediate another build shares stays; the build's own result is not affected.
            _progress.Warning($"removing intermediate images: {e.Message}");
        }
    }

    /// <summary>
    /// --squash: the layers above the base (--squash-all: every layer) become one. The base's layers
    /// are the lower dirs of an overlay, the squashed layers are applied onto it in order, and the
    /// overlay's upper dir (with whiteouts for what they deleted from the base) is the new layer.
    /// The squashed history entries are all marked empty but the last, as podman does.
    /// </summary>
    private async Task SquashAsync(StageState state, CancellationToken cancellationToken)
    {
        bool all = _options.Squash == SquashMode.All;
        int keep = all ? 0 : state.BaseLayers;
        int keepHistory = all ? 0 : state.BaseHistory;
        var squashed = state.Layers.Skip(keep).ToList();

        // podman's --squash-all keeps only this build's history entries; --squash keeps the base's too.
        var history = (state.Config.History ?? []).Skip(all ? state.BaseHistory : 0).ToList();
        for (int i = keepHistory; i < history.Count; i++)
        {
            history[i] = history[i] with { EmptyLayer = i < history.Count - 1 || squashed.Count == 0 };
        }

        state.Layers.RemoveRange(keep, state.Layers.Count - keep);
        state.Config = state.Config with { RootFs = state.Config.RootFs with { DiffIds = [.. state.Config.RootFs.DiffIds.Take(keep)] }, History = history };
        if (squashed.Count == 0)
        {
            await CommitAsync(state, null, cancellationToken).ConfigureAwait(false);
            return;
        }

        string upper = Path.Combine(_work, "squash-upper");
        Directory.CreateDirectory(upper);
        List<ContainerChange> changes;
        if (keep == 0)
        {
            await ApplyLayersAsync(squashed, upper, cancellationToken).ConfigureAwait(false);
            changes = ContainerChanges.Compute(upper, [], [], []);
        }
        else
        {
            var baseImage = Store.ReadImages().First(i => i.Id == state.BaseImageId);
            var unpacked = await _containers.Layers.EnsureAsync(baseImage, WhiteoutMode.Overlay, cancellationToken).ConfigureAwait(false);
            var lowers = unpacked.LayerDirs.Reverse().ToList();
            string merged = Path.Combine(_work, "squash-merged");
            if (RootfsMount.TryMount("overlay", lowers, upper, Path.Combine(_work, "squash-work"), merged) is { } error)
            {
                throw new WharfException($"squashing the new layers: {error}");
            }

            try
            {
                await ApplyLayersAsync(squashed, merged, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                RootfsMount.Unmount(merged, "overlay");
            }

            changes = ContainerChanges.Compute(upper, lowers, [], []);
        }

        if (changes.Count == 0)
        {
            state.Config = state.Config with { History = [.. history[..^1], history[^1] with { EmptyLayer = true }] };
            await CommitAsync(state, null, cancellationToken).ConfigureAwait(false);
            return;
        }

        string layerFile = Path.Combine(_work, "squash-" + Guid.NewGuid().ToString("N") + ".tar.gz");
        var layer = await Layer.FromChangesAsync(changes, layerFile, _format, cancellationToken).ConfigureAwait(false);
        try
        {
            await CommitAsync(state, layer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(layerFile);
        }
    }

    private async Task ApplyLayersAsync(IEnumerable<Descriptor> layers, string target, CancellationToken cancellationToken)
    {
        foreach (var layer in layers)
        {
            var blob = Store.OpenBlob(layer.Digest);
            await using (blob.ConfigureAwait(false))
            {
                await LayerUnpacker.UnpackAsync(blob, target, new LayerUnpackOptions { Whiteouts = WhiteoutMode.Apply }, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static IEnumerable<(string Key, string? Value)> ArgPairs(Instruction arg, Func<string, string?> lookup, char escape)
    {
        foreach (string word in Words.Split(Words.Expand(arg.Arguments, lookup, escape), escape))
        {
            int eq = word.IndexOf('=', StringComparison.Ordinal);
            yield return eq < 0 ? (word, null) : (word[..eq], word[(eq + 1)..]);
        }
    }

    private async Task<StageState> FromAsync(Stage stage, CancellationToken cancellationToken)
    {
        string baseName = Words.Expand(stage.BaseName, n => _globals.GetValueOrDefault(n));
        if (baseName == "scratch")
        {
            var config = new ImageConfig
            {
                Architecture = RuntimeArch(stage.Platform),
                Os = "linux",
                // buildah starts a scratch image with the default PATH, so ENV PATH=… replaces it in place.
                Config = new ContainerConfig { Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] },
                RootFs = new RootFs(),
                History = [],
            };
            return new StageState { Config = config };
        }

        ImageRecord image;
        if (_stages.Take(stage.Index).FirstOrDefault(s => s.Name == baseName.ToLowerInvariant()) is { } earlier)
        {
            image = Store.ReadImages().First(i => i.Id == _results[earlier.Index]);
        }
        else
        {
            image = await ResolveAsync(baseName, stage.Platform, cancellationToken).ConfigureAwait(false);
        }

        var state = Load(image);
        state.BaseImageId = image.Id;
        state.BaseLayers = state.Layers.Count;
        state.BaseHistory = state.Config.History?.Count ?? 0;
        return state;
    }

    private StageState Load(ImageRecord image)
    {
        var manifest = ManifestParser.Parse(Store.ReadBlob(image.Digest), image.ManifestMediaType);
        var config = ImageWriter.ParseConfig(Store.ReadBlob(manifest.Config!.Digest));
        var state = new StageState { Config = config with { Config = config.Config ?? new ContainerConfig() }, ImageId = image.Id, ParentKey = image.Id };
        state.Layers.AddRange(manifest.Layers);
        return state;
    }

    /// <summary>A named image: local unless missing or --pull, else pulled.</summary>
    private async Task<ImageRecord> ResolveAsync(string name, string? platform, CancellationToken cancellationToken)
    {
        var options = _options;
        var images = _containers.Images;
        var local = options.Pull ? null : ImageNames.Lookup(Store.ReadImages(), name, []);
        if (local is not null)
        {
            return local;
        }

        if (options.PullNever)
        {
            throw new WharfException($"creating build container: {name}: image not known");
        }

        string? os = null, arch = null;
        if (platform is { } p)
        {
            var parts = p.Split('/');
            os = parts[0];
            arch = parts.Length > 1 ? parts[1] : null;
        }

        try
        {
            var report = await images.Registry.PullAsync(new PullOptions
            {
                Reference = name,
                Quiet = true,
                Os = os,
                Architecture = arch,
                TlsVerify = options.TlsVerify,
                AuthFile = options.AuthFile,
                Credentials = options.Credentials,
                CertDir = options.CertDir,
            }, cancellationToken).ConfigureAwait(false);
            return Store.ReadImages().First(i => i.Id == report.ImageId);
        }
        catch (WharfException) when (ImageNames.Lookup(Store.ReadImages(), name, []) is not null)
        {
            // --pull with no registry reachable: podman falls back to the local image for "missing"; keep it.
            // Without a local image the pull's own error (the registry's reason) goes to the user.
            return ImageNames.Lookup(Store.ReadImages(), name, [])!;
        }
    }

    private static string RuntimeArch(string? platform) =>
        platform?.Split('/') is { Length: > 1 } parts ? parts[1] : System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
        {
            System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
            _ => "amd64",
        };

    private void Tag(string imageId, List<string> names)
    {
        if (names.Count == 0)
        {
            return;
        }

        Store.Update(images =>
        {
            foreach (var other in images)
            {
                other.Names.RemoveAll(names.Contains);
            }

            images.First(i => i.Id == imageId).Names.AddRange(names);
            return 0;
        });
    }

    private string Now() => RfcTime.Format(_containers.Images.Time.GetUtcNow());

    internal static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));


    /// <summary>Writes the state's config (plus a layer, if any) as an image; the state then points at it.</summary>
    private Task CommitAsync(StageState state, Layer? layer, CancellationToken cancellationToken) => CommitAsync(state, layer, null, cancellationToken);

    private async Task CommitAsync(StageState state, Layer? layer, IReadOnlyDictionary<string, string>? annotations, CancellationToken cancellationToken)
    {
        state.Config = state.Config with { Created = Now() };
        try
        {
            if (layer is not null)
            {
                state.Layers.Add(await _writer.WriteLayerAsync(layer, cancellationToken).ConfigureAwait(false));
                state.Config = state.Config.WithLayer(layer.DiffId);
            }

            var image = await _writer.WriteAsync(state.Config, state.Layers, _format, annotations, cancellationToken).ConfigureAwait(false);
            var record = _writer.Register(image, null, [], _containers.Images.Time);
            _committed.Add(record.Id);
            state.ImageId = record.Id;
            state.ParentKey = record.Id;
        }
        finally
        {
            // A step that failed before its image was recorded leaves no in-flight marks behind.
            _writer.Release();
        }
    }

    /// <summary>Re-reads a cached image into the state (its config and layers).</summary>
    private bool TryCache(StageState state, string key)
    {
        if (_options.NoCache || !KeepLayers || _cache.Get(key) is not { } id || Store.ReadImages().FirstOrDefault(i => i.Id == id) is not { } image)
        {
            return false;
        }

        var loaded = Load(image);
        state.Config = loaded.Config;
        state.Layers.Clear();
        state.Layers.AddRange(loaded.Layers);
        state.ImageId = image.Id;
        state.ParentKey = image.Id;
        Say($"--> Using cache {image.Id}");
        return true;
    }

    private void PutCache(string key, string imageId)
    {
        if (KeepLayers)
        {
            _cache.Put(key, imageId);
        }
    }

    private HistoryEntry History(string createdBy, bool empty) => new() { Created = Now(), CreatedBy = createdBy, EmptyLayer = empty };

    private static void AddHistory(StageState state, HistoryEntry entry) => state.Config = state.Config.WithHistory(entry);

    /// <summary>
    /// The base image's ONBUILD triggers run first, in order, as if written right after FROM
    /// (Dockerfile reference); they are not passed on to the new image.
    /// </summary>
    private async Task OnBuildAsync(StageState state, Stage stage, CancellationToken cancellationToken)
    {
        if (state.Run.OnBuild is not { Count: > 0 } triggers)
        {
            return;
        }

        state.Run = state.Run with { OnBuild = null };
        foreach (string text in triggers)
        {
            var parsed = Dockerfile.Parse("FROM scratch\n" + text + "\n").Instructions[1];
            if (parsed.Keyword is "ONBUILD" or "FROM" or "MAINTAINER")
            {
                throw new WharfException($"Dockerfile:{stage.From.Line}: {parsed.Keyword} isn't allowed as an ONBUILD trigger");
            }

            var trigger = parsed with { Line = stage.From.Line };
            Say($"--> Running ONBUILD trigger: {trigger.Original}");
            await StepAsync(trigger, state, stage, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One instruction applied to the stage's state: a metadata change, RUN, or COPY/ADD.</summary>
    private async Task StepAsync(Instruction ins, StageState state, Stage stage, CancellationToken cancellationToken)
    {
        string Expand(string text) => Words.Expand(text, state.Lookup, Escape);
        var run = state.Run;
        string nop = "/bin/sh -c #(nop) ";
        switch (ins.Keyword)
        {
            case "ARG":
                foreach (var (k, v) in ArgPairs(ins, state.Lookup, Escape))
                {
                    if (_options.BuildArgs.TryGetValue(k, out string? given))
                    {
                        _consumed.Add(k);
                        state.Args[k] = given;
                    }
                    else if (v is not null)
                    {
                        state.Args[k] = v;
                    }
                    else if (_globals.TryGetValue(k, out string? global))
                    {
                        state.Args[k] = global;
                    }
                    else
                    {
                        state.Args[k] = string.Empty;
                    }
                }

                await MetadataAsync(state, nop + ins.Original, cancellationToken).ConfigureAwait(false);
                return;
            case "ENV":
                state.Run = run.WithEnv(Words.Pairs(Expand(ins.Arguments), Escape).Select(p => (p.Key, p.Value)));
                break;
            case "LABEL":
                state.Run = run.WithLabels(Words.Pairs(Expand(ins.Arguments), Escape).Select(p => (p.Key, p.Value)));
                break;
            case "MAINTAINER":
                state.Config = state.Config with { Author = Expand(ins.Arguments) };
                break;
            case "WORKDIR":
                {
                    string dir = Expand(ins.Arguments).Trim();
                    string current = run.WorkingDir is { Length: > 0 } w ? w : "/";
                    state.Run = run with { WorkingDir = dir.StartsWith('/') ? InstructionValues.Normalize(dir) : InstructionValues.Normalize(current.TrimEnd('/') + "/" + dir) };
                    break;
                }

            case "USER":
                state.Run = run with { User = Expand(ins.Arguments).Trim() };
                break;
            case "STOPSIGNAL":
                state.Run = run with { StopSignal = Expand(ins.Arguments).Trim() };
                break;
            case "EXPOSE":
                state.Run = run.WithExposedPorts(Words.Split(Expand(ins.Arguments), Escape));
                break;
            case "VOLUME":
                state.Run = run.WithVolumes(Dockerfile.TryJsonArray(Expand(ins.Arguments)) ?? Words.Split(Expand(ins.Arguments), Escape));
                break;
            case "CMD":
                state.Run = run with { Cmd = ins.ExecForm ?? [.. Shell(state), ins.Arguments] };
                break;
            case "ENTRYPOINT":
                // Dockerfile reference: ENTRYPOINT resets a CMD inherited from the base image.
                state.Run = run with
                {
                    Entrypoint = ins.ExecForm ?? [.. Shell(state), ins.Arguments],
                    Cmd = stage.Instructions.Any(i => i.Keyword == "CMD") ? run.Cmd : null,
                };
                break;
            case "SHELL":
                state.Run = run with { Shell = ins.ExecForm ?? throw new WharfException($"Dockerfile:{ins.Line}: SHELL requires the arguments to be in JSON form") };
                break;
            case "ONBUILD":
                state.Run = run with { OnBuild = [.. run.OnBuild ?? [], ins.Arguments] };
                break;
            case "HEALTHCHECK":
                state.Run = run with { Healthcheck = InstructionValues.Healthcheck(ins) };
                break;
            case "RUN":
                await RunAsync(ins, state, cancellationToken).ConfigureAwait(false);
                return;
            case "COPY":
            case "ADD":
                await CopyAsync(ins, state, stage, cancellationToken).ConfigureAwait(false);
                return;
            default:
                throw new WharfException($"Dockerfile:{ins.Line}: {ins.Keyword} is not supported");
        }

        string shown = ins.Keyword is "CMD" or "ENTRYPOINT" or "ONBUILD" or "SHELL" or "HEALTHCHECK" ? ins.Original : ins.Keyword + " " + Expand(ins.Arguments);
        await MetadataAsync(state, nop + shown, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A metadata-only step: history with empty_layer, no new layer; cached by parent and text.</summary>
    private async Task MetadataAsync(StageState state, string createdBy, CancellationToken cancellationToken)
    {
        string key = Hash(state.ParentKey + "\n" + createdBy + "\n" + _options.Format);
        if (TryCache(state, key))
        {
            return;
        }

        AddHistory(state, History(createdBy, empty: true));
        await CommitAsync(state, null, cancellationToken).ConfigureAwait(false);
        PutCache(key, state.ImageId!);
    }

    private static List<string> Shell(StageState state) =>
        state.Run.Shell is { Count: > 0 } shell ? [.. shell] : ["/bin/sh", "-c"];

    /// <summary>RUN: a container from the current image with the build args in its environment; its changes become a layer.</summary>
    private async Task RunAsync(Instruction ins, StageState state, CancellationToken cancellationToken)
    {
        var argv = ins.ExecForm ?? [.. Shell(state), ins.Arguments];
        var env = state.Args.Where(a => state.EnvValue(a.Key) is null).Select(a => a.Key + "=" + a.Value).Order(StringComparer.Ordinal).ToList();
        // podman writes RUN's flags into the history line: "/bin/sh -c --mount=type=secret,id=x cat …".
        string flags = string.Concat(ins.Flags.Select(f => $"--{f.Key}={f.Value} "));
        string createdBy = ins.ExecForm is null ? string.Join(' ', Shell(state)) + " " + flags + ins.Arguments : string.Join(' ', argv);
        string key = Hash(state.ParentKey + "\nRUN " + createdBy + "\n" + string.Join('\n', env) + "\n" + _options.Network + "\n" + _options.Format);
        if (TryCache(state, key))
        {
            return;
        }

        if (state.ImageId is null)
        {
            // FROM scratch then RUN: the container needs an image to start from.
            await CommitAsync(state, null, cancellationToken).ConfigureAwait(false);
        }

        var secrets = SecretMounts(ins);
        ContainerRecord record;
        try
        {
            record = await _containers.Creator.CreateAsync(new CreateOptions
            {
                Image = state.ImageId!,
                Command = argv,
                Entrypoint = string.Empty,
                Env = env,
                Network = _options.Network,
                Pull = "never",
                Quiet = true,
                Ulimits = _options.Ulimits,
                Volumes = [.. secrets.Select(m => $"{m.File}:{m.Target}:ro")],
            }, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            DeleteSecrets(secrets);
            throw;
        }

        try
        {
            int code;
            using (_options.Quiet ? BuildNative.StdoutToStderr() : null)
            {
                code = await _containers.Lifecycle.StartAsync(record.Id, attach: true, interactive: false, cancellationToken).ConfigureAwait(false);
            }

            if (code != 0)
            {
                _progress.Failure($"Dockerfile:{ins.Line}: {ins.Original} exited with status {code}");
                throw new WharfException($"building at STEP \"RUN {string.Join(' ', argv)}\": while running runtime: exit status {code}", code);
            }

            await LayerStepAsync(state, createdBy, _containers.Files.Diff(record.Id), Path.Combine(_containers.Store.Dir(record.Id), "build-layer.tar.gz"), cancellationToken).ConfigureAwait(false);
            PutCache(key, state.ImageId!);
        }
        finally
        {
            _containers.Lifecycle.Remove(record.Id, force: true);
            DeleteSecrets(secrets);
        }
    }

    /// <summary>
    /// <c>RUN --mount=type=secret,id=ID[,target=PATH][,required][,mode=0400][,uid=0][,gid=0]</c>: each
    /// secret is written to a private file (mode and owner as asked) that is bind-mounted read-only for
    /// this step only; the mount point is left out of the step's layer, so the secret is in no layer.
    /// A secret the build was not given is skipped unless required, as with buildah.
    /// </summary>
    private List<(string File, string Target)> SecretMounts(Instruction ins)
    {
        var mounts = new List<(string File, string Target)>();
        if (!ins.Flags.TryGetValue("mount", out string? spec))
        {
            return mounts;
        }

        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string part in spec.Split(','))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            fields[eq < 0 ? part : part[..eq]] = eq < 0 ? "true" : part[(eq + 1)..];
        }

        string type = fields.GetValueOrDefault("type", "bind");
        if (type != "secret")
        {
            throw new WharfException($"Dockerfile:{ins.Line}: RUN --mount=type={type} is not supported by wharf (only type=secret is)");
        }

        string target = fields.GetValueOrDefault("target") ?? fields.GetValueOrDefault("dst") ?? fields.GetValueOrDefault("destination") ?? string.Empty;
        string id = fields.GetValueOrDefault("id") ?? (target.Length > 0 ? Path.GetFileName(target) : throw new WharfException($"Dockerfile:{ins.Line}: RUN --mount=type=secret needs id="));
        target = target.Length > 0 ? target : "/run/secrets/" + id;
        if (!_options.Secrets.TryGetValue(id, out var secret))
        {
            if (fields.GetValueOrDefault("required") is "true")
            {
                throw new WharfException($"building at STEP \"RUN {ins.Arguments}\": secret required but no secret with id \"{id}\" found");
            }

            return mounts;
        }

        UnixFileMode mode = (UnixFileMode)Convert.ToInt32(fields.GetValueOrDefault("mode", "0400"), 8);
        int uid = int.Parse(fields.GetValueOrDefault("uid", "0"), NumberStyles.None, CultureInfo.InvariantCulture);
        int gid = int.Parse(fields.GetValueOrDefault("gid", "0"), NumberStyles.None, CultureInfo.InvariantCulture);
        string file = Path.Combine(_work, "secret-" + Guid.NewGuid().ToString("N"));
        // The work directory is the caller's alone (0700), so the file is private from its creation.
        using (var stream = new FileStream(file, FileMode.CreateNew, FileAccess.Write))
        {
            stream.Write(secret.Content.Span);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(file, mode);
        }

        BuildNative.Lchown(file, uid, gid);
        mounts.Add((file, target));
        return mounts;
    }

    private static void DeleteSecrets(List<(string File, string Target)> mounts)
    {
        foreach (var (file, _) in mounts)
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// A step whose result is a directory diff (RUN, COPY, ADD): a history entry, and a layer unless
    /// nothing changed (buildah then records an empty layer).
    /// </summary>
    private async Task LayerStepAsync(StageState state, string createdBy, IReadOnlyList<ContainerChange> changes, string layerFile, CancellationToken cancellationToken)
    {
        AddHistory(state, History(createdBy, empty: changes.Count == 0));
        if (changes.Count == 0)
        {
            await CommitAsync(state, null, cancellationToken).ConfigureAwait(false);
            return;
        }

        var layer = await Layer.FromChangesAsync(changes, layerFile, _format, cancellationToken).ConfigureAwait(false);
        try
        {
            await CommitAsync(state, layer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(layerFile);
        }
    }

    /// <summary>
    /// COPY/ADD: the sources are staged under a directory laid out as the image's root, hashed (the
    /// cache key's content part), then written as one layer. Sources resolve inside their root only:
    /// <c>..</c> and symlinks may not leave the context.
    /// </summary>
    private async Task CopyAsync(Instruction ins, StageState state, Stage stage, CancellationToken cancellationToken)
    {
        string step = $"building at STEP \"{ins.Keyword} {ins.Arguments}\"";
        var args = ins.ExecForm?.Select(a => Words.Expand(a, state.Lookup, Escape)).ToList() ?? Words.Split(Words.Expand(ins.Arguments, state.Lookup, Escape), Escape);
        if (args.Count < 2)
        {
            throw new WharfException($"Dockerfile:{ins.Line}: {ins.Keyword} requires at least two arguments");
        }

        string dest = args[^1];
        var sources = args[..^1];
        string workdir = state.Run.WorkingDir is { Length: > 0 } w ? w : "/";
        bool destIsDir = dest.EndsWith('/') || dest == "." || sources.Count > 1;
        string destPath = dest.StartsWith('/') ? InstructionValues.Normalize(dest) : InstructionValues.Normalize(workdir + "/" + dest);

        // Where sources come from: the context (with its ignore file), or a stage's or image's root.
        string root = _context;
        bool fromContext = true;
        if (ins.Flags.TryGetValue("from", out string? from))
        {
            fromContext = false;
            root = await FromRootAsync(from, stage, cancellationToken).ConfigureAwait(false);
        }

        var (uid, gid) = Owner(ins, root, state);
        UnixFileMode? chmod = ins.Flags.TryGetValue("chmod", out string? m) ? (UnixFileMode)Convert.ToInt32(m, 8) : null;
        string staging = Path.Combine(_work, "stage-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(staging);
        try
        {
            await CopySources.StageAsync(new CopyRequest(ins.Keyword, sources, root, fromContext, fromContext ? _ignore : null, destPath, destIsDir, uid, gid, chmod, step), staging, cancellationToken).ConfigureAwait(false);
            string contentHash = CopySources.HashTree(staging);
            string createdBy = $"/bin/sh -c #(nop) {ins.Keyword} {string.Join(' ', ins.Flags.Select(f => $"--{f.Key}={f.Value} "))}{string.Join(' ', sources)} {dest}";
            string key = Hash(state.ParentKey + "\n" + createdBy + "\n" + contentHash + "\n" + _options.Format);
            if (TryCache(state, key))
            {
                return;
            }

            await LayerStepAsync(state, createdBy, ContainerChanges.Compute(staging, [], [], []), Path.Combine(_work, "layer-" + Guid.NewGuid().ToString("N") + ".tar.gz"), cancellationToken).ConfigureAwait(false);
            PutCache(key, state.ImageId!);
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>The root filesystem of an earlier stage (by name or index) or of an image, unpacked once per build.</summary>
    private async Task<string> FromRootAsync(string from, Stage stage, CancellationToken cancellationToken)
    {
        string? imageId = null;
        var named = _stages.Take(stage.Index).FirstOrDefault(s => s.Name == from.ToLowerInvariant());
        if (named is not null)
        {
            imageId = _results[named.Index];
        }
        else if (int.TryParse(from, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
        {
            imageId = index < stage.Index ? _results[index] : throw new WharfException($"COPY --from={from}: stage {index} is not an earlier stage");
        }

        var image = imageId is not null
            ? Store.ReadImages().First(i => i.Id == imageId)
            : await ResolveAsync(from, null, cancellationToken).ConfigureAwait(false);
        if (!_fromRoots.TryGetValue(image.Id, out string? dir))
        {
            dir = Path.Combine(_work, "from-" + image.Id[..12]);
            Directory.CreateDirectory(dir);
            await _containers.Layers.ApplyAllAsync(image, dir, cancellationToken).ConfigureAwait(false);
            _fromRoots[image.Id] = dir;
        }

        return dir;
    }

    private (int Uid, int Gid) Owner(Instruction ins, string root, StageState state)
    {
        if (!ins.Flags.TryGetValue("chown", out string? chown))
        {
            return (0, 0);
        }

        string[] parts = chown.Split(':');
        int uid = NumericOrNamed(parts[0], "passwd", ins);
        int gid = parts.Length > 1 ? NumericOrNamed(parts[1], "group", ins) : uid;
        return (uid, gid);

        int NumericOrNamed(string value, string db, Instruction i)
        {
            if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            {
                return n;
            }

            if (value == "root")
            {
                return 0;
            }

            // Names resolve through the image's /etc/passwd and /etc/group, read from its layers.
            string? file = ReadImageFile(state, "etc/" + db);
            foreach (string line in (file ?? string.Empty).Split('\n'))
            {
                var f = line.Split(':');
                if (f.Length > 2 && f[0] == value && int.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out int id))
                {
                    return id;
                }
            }

            throw new WharfException($"Dockerfile:{i.Line}: --chown={chown}: no {(db == "passwd" ? "user" : "group")} \"{value}\" in the image's /etc/{db}");
        }
    }

    /// <summary>A file from the image's layers (topmost wins), read through the unpacked layer directories.</summary>
    private string? ReadImageFile(StageState state, string relative)
    {
        if (state.ImageId is null || Store.ReadImages().FirstOrDefault(i => i.Id == state.ImageId) is not { } image)
        {
            return null;
        }

        var unpacked = _containers.Layers.EnsureAsync(image, WhiteoutMode.Overlay, CancellationToken.None).GetAwaiter().GetResult();
        foreach (string dir in unpacked.LayerDirs.Reverse())
        {
            string p = Path.Combine(dir, relative);
            if (File.Exists(p))
            {
                return File.ReadAllText(p);
            }
        }

        return null;
    }
}
