using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
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
internal sealed partial class BuildSession
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

    /// <summary>Per-stage state: the image so far (null while nothing is committed after FROM scratch).</summary>
    private sealed class StageState
    {
        public required ImageConfig Config { get; set; }

        public List<Descriptor> Layers { get; } = [];

        public string ParentKey { get; set; } = "scratch";

        public string? ImageId { get; set; }

        public Dictionary<string, string> Args { get; } = new(StringComparer.Ordinal);

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
                if (!lastStep)
                {
                    Say($"--> {state.ImageId![..11]}");
                }
            }

            if (si == last)
            {
                if (_options.Labels.Count > 0)
                {
                    state.Run = state.Run.WithLabels(_options.Labels.Select(l => (l.Key, l.Value)));
                }

                if (_options.Labels.Count > 0 || state.ImageId is null || stage.Instructions.Count == 0)
                {
                    await CommitAsync(state, null, cancellationToken).ConfigureAwait(false);
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

                return new BuildReport(state.ImageId, names);
            }

            if (state.ImageId is null)
            {
                await CommitAsync(state, null, cancellationToken).ConfigureAwait(false);
                Say($"--> {state.ImageId![..11]}");
            }

            _results[si] = state.ImageId;
        }

        throw new InvalidOperationException("unreachable: the target stage returns");
    }

    private void Say(string line) => _progress.Step(line);

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

        return Load(image);
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

        string? os = null, arch = null;
        if (platform is { } p)
        {
            var parts = p.Split('/');
            os = parts[0];
            arch = parts.Length > 1 ? parts[1] : null;
        }

        try
        {
            var report = await images.PullAsync(new PullOptions
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
        catch (WharfException) when (!options.Pull)
        {
            return images.LookupImage(name);
        }
        catch (WharfException) when (ImageNames.Lookup(Store.ReadImages(), name, []) is not null)
        {
            // --pull with no registry reachable: podman falls back to the local image for "missing"; keep it.
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
    private async Task CommitAsync(StageState state, Layer? layer, CancellationToken cancellationToken)
    {
        state.Config = state.Config with { Created = Now() };
        if (layer is not null)
        {
            state.Layers.Add(await _writer.WriteLayerAsync(layer, cancellationToken).ConfigureAwait(false));
            state.Config = state.Config.WithLayer(layer.DiffId);
        }

        var image = await _writer.WriteAsync(state.Config, state.Layers, _format, cancellationToken).ConfigureAwait(false);
        var record = _writer.Register(image, null, [], _containers.Images.Time);
        state.ImageId = record.Id;
        state.ParentKey = record.Id;
    }

    /// <summary>Re-reads a cached image into the state (its config and layers).</summary>
    private bool TryCache(StageState state, string key)
    {
        if (_options.NoCache || _cache.Get(key) is not { } id || Store.ReadImages().FirstOrDefault(i => i.Id == id) is not { } image)
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

    private HistoryEntry History(string createdBy, bool empty) => new() { Created = Now(), CreatedBy = createdBy, EmptyLayer = empty };

    private static void AddHistory(StageState state, HistoryEntry entry) => state.Config = state.Config.WithHistory(entry);
}

/// <summary>Cache key (parent image, instruction, content hash) → image ID, in one JSON file next to the store.</summary>
internal sealed class BuildCache(string path)
{
    public string? Get(string key)
    {
        try
        {
            var map = JsonNode.Parse(File.ReadAllText(path)) as JsonObject;
            return map?[key]?.GetValue<string>();
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }

    public void Put(string key, string imageId)
    {
        JsonObject map;
        try
        {
            map = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? [];
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            map = [];
        }

        map[key] = imageId;
        string temp = path + "." + Guid.NewGuid().ToString("N");
        File.WriteAllText(temp, map.ToJsonString());
        File.Move(temp, path, overwrite: true);
    }
}
