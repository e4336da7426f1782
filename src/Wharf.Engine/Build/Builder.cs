using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Engine.Containers;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine.Build;

/// <summary>
/// podman build: each instruction of each stage is committed as an intermediate (unnamed) image,
/// so RUN can start a container from the one before and the layer cache can hand back an earlier
/// result. Metadata instructions add a history entry; COPY, ADD and RUN add a layer.
/// </summary>
public sealed partial class Builder
{
    private readonly ContainerEngine _containers;
    private readonly TextWriter _out;
    private readonly TextWriter _err;
    private readonly BuildCache _cache;

    public Builder(ContainerEngine containers, TextWriter output, TextWriter errors)
    {
        ArgumentNullException.ThrowIfNull(containers);
        _containers = containers;
        _out = output ?? TextWriter.Null;
        _err = errors ?? TextWriter.Null;
        _cache = new BuildCache(Path.Combine(Store.Root, "build-cache.json"));
    }

    private ImageStore Store => _containers.Images.Store;

    /// <summary>Per-stage state: the image so far (null while nothing is committed after FROM scratch).</summary>
    private sealed class StageState
    {
        public required JsonObject Config { get; set; }

        public List<Descriptor> Layers { get; } = [];

        public string ParentKey { get; set; } = "scratch";

        public string? ImageId { get; set; }

        public Dictionary<string, string> Args { get; } = new(StringComparer.Ordinal);

        public JsonObject Run => Config["config"] as JsonObject ?? throw new InvalidOperationException("no config");

        public string? EnvValue(string name)
        {
            foreach (var e in Run["Env"] as JsonArray ?? [])
            {
                string s = e!.GetValue<string>();
                if (s.StartsWith(name + "=", StringComparison.Ordinal))
                {
                    return s[(name.Length + 1)..];
                }
            }

            return null;
        }

        public string? Lookup(string name) => EnvValue(name) ?? Args.GetValueOrDefault(name);
    }

    public async Task<string> BuildAsync(BuildOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Format is not ("oci" or "docker"))
        {
            throw new WharfException($"unrecognized image type \"{options.Format}\"");
        }

        string context = Path.GetFullPath(options.Context);
        if (!Directory.Exists(context))
        {
            throw new WharfException($"no such file or directory: {options.Context}");
        }

        string file = options.File is { } f
            ? (Path.IsPathRooted(f) || File.Exists(f) ? Path.GetFullPath(f) : Path.Combine(context, f))
            : new[] { "Containerfile", "Dockerfile" }.Select(n => Path.Combine(context, n)).FirstOrDefault(File.Exists)
                ?? throw new WharfException($"no Containerfile or Dockerfile specified or found in context directory, {context}: no such file or directory");
        if (!File.Exists(file))
        {
            throw new WharfException($"the specified Containerfile or Dockerfile does not exist, {options.File}: no such file or directory");
        }

        var dockerfile = Dockerfile.Parse(await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false));
        var stages = dockerfile.Stages();
        int last = stages.Count - 1;
        if (options.Target is { } target)
        {
            last = stages.FirstOrDefault(s => s.Name == target.ToLowerInvariant())?.Index
                ?? throw new WharfException($"building target \"{target}\": no stage named \"{target}\" in the Dockerfile");
        }

        var names = options.Tags.Select(ImageNames.ForNewImage).ToList();
        var ignore = ContextIgnore.Load(context);

        // Global ARGs: defaults, overridden by --build-arg; usable in FROM lines.
        var globals = new Dictionary<string, string>(StringComparer.Ordinal);
        var consumed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var arg in dockerfile.GlobalArgs)
        {
            foreach (var (k, v) in ArgPairs(arg, n => globals.GetValueOrDefault(n), dockerfile.Escape))
            {
                if (options.BuildArgs.TryGetValue(k, out string? given))
                {
                    consumed.Add(k);
                    globals[k] = given;
                }
                else if (v is not null)
                {
                    globals[k] = v;
                }
            }
        }

        var results = new Dictionary<int, string>();
        var work = Directory.CreateTempSubdirectory("wharf-build-").FullName;
        try
        {
            bool multi = last > 0;
            for (int si = 0; si <= last; si++)
            {
                var stage = stages[si];
                string prefix = multi ? $"[{si + 1}/{last + 1}] " : string.Empty;
                int total = stage.Instructions.Count + 1;
                Say(options, $"{prefix}STEP 1/{total}: FROM {Words.Expand(stage.From.Arguments, n => globals.GetValueOrDefault(n), dockerfile.Escape)}");
                var state = await FromAsync(stage, stages, results, globals, options, cancellationToken).ConfigureAwait(false);
                await OnBuildAsync(state, stage, stages, results, globals, consumed, context, ignore, work, options, dockerfile.Escape, cancellationToken).ConfigureAwait(false);
                for (int ii = 0; ii < stage.Instructions.Count; ii++)
                {
                    var ins = stage.Instructions[ii];
                    Say(options, $"{prefix}STEP {ii + 2}/{total}: {ins.Original.Replace("\n", string.Empty, StringComparison.Ordinal)}");
                    bool lastStep = si == last && ii == stage.Instructions.Count - 1;
                    await StepAsync(ins, state, stage, stages, results, globals, consumed, context, ignore, work, options, dockerfile.Escape, lastStep, cancellationToken).ConfigureAwait(false);
                    if (!lastStep)
                    {
                        Say(options, $"--> {state.ImageId![..11]}");
                    }
                }

                if (si == last)
                {
                    if (options.Labels.Count > 0)
                    {
                        var labels = state.Run["Labels"] as JsonObject ?? [];
                        state.Run["Labels"] = labels;
                        foreach (var (k, v) in options.Labels)
                        {
                            labels[k] = v;
                        }
                    }

                    if (options.Labels.Count > 0 || state.ImageId is null || stage.Instructions.Count == 0)
                    {
                        await CommitAsync(state, null, options, cancellationToken).ConfigureAwait(false);
                    }

                    Say(options, $"{prefix}COMMIT {string.Join(' ', options.Tags)}".TrimEnd());
                    Say(options, $"--> {state.ImageId![..11]}");
                    Tag(state.ImageId, names);
                    foreach (string n in names)
                    {
                        Say(options, $"Successfully tagged {n}");
                    }

                    var unused = options.BuildArgs.Keys.Where(k => !consumed.Contains(k)).Order(StringComparer.Ordinal).ToList();
                    if (unused.Count > 0)
                    {
                        await _err.WriteLineAsync($"[Warning] one or more build args were not consumed: [{string.Join(' ', unused)}]").ConfigureAwait(false);
                    }

                    await _out.WriteLineAsync(state.ImageId).ConfigureAwait(false);
                    await _out.FlushAsync(cancellationToken).ConfigureAwait(false);
                    return state.ImageId;
                }

                if (state.ImageId is null)
                {
                    await CommitAsync(state, null, options, cancellationToken).ConfigureAwait(false);
                    Say(options, $"--> {state.ImageId![..11]}");
                }

                results[si] = state.ImageId;
            }

            throw new InvalidOperationException("unreachable: the target stage returns");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private void Say(BuildOptions options, string line)
    {
        if (!options.Quiet)
        {
            _out.WriteLine(line);
            _out.Flush();
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

    private async Task<StageState> FromAsync(Stage stage, IReadOnlyList<Stage> stages, Dictionary<int, string> results, Dictionary<string, string> globals, BuildOptions options, CancellationToken cancellationToken)
    {
        string baseName = Words.Expand(stage.BaseName, n => globals.GetValueOrDefault(n));
        if (baseName == "scratch")
        {
            var config = new JsonObject
            {
                ["architecture"] = RuntimeArch(stage.Platform),
                ["os"] = "linux",
                // buildah starts a scratch image with the default PATH, so ENV PATH=… replaces it in place.
                ["config"] = new JsonObject { ["Env"] = new JsonArray("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") },
                ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray() },
                ["history"] = new JsonArray(),
            };
            return new StageState { Config = config };
        }

        ImageRecord image;
        if (stages.Take(stage.Index).FirstOrDefault(s => s.Name == baseName.ToLowerInvariant()) is { } earlier)
        {
            image = Store.ReadImages().First(i => i.Id == results[earlier.Index]);
        }
        else
        {
            image = await ResolveAsync(baseName, stage.Platform, options, cancellationToken).ConfigureAwait(false);
        }

        return Load(image);
    }

    private StageState Load(ImageRecord image)
    {
        var manifest = ManifestParser.Parse(Store.ReadBlob(image.Digest), image.ManifestMediaType);
        var config = JsonNode.Parse(Store.ReadBlob(manifest.Config!.Digest)) as JsonObject ?? [];
        if (config["config"] is not JsonObject)
        {
            config["config"] = new JsonObject();
        }

        var state = new StageState { Config = config, ImageId = image.Id, ParentKey = image.Id };
        state.Layers.AddRange(manifest.Layers);
        return state;
    }

    /// <summary>A named image: local unless missing or --pull, else pulled.</summary>
    private async Task<ImageRecord> ResolveAsync(string name, string? platform, BuildOptions options, CancellationToken cancellationToken)
    {
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

    internal static string Now() => DateTimeOffset.UtcNow.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture);

    internal static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    internal static JsonArray Arr(IEnumerable<string> items) => new([.. items.Select(x => (JsonNode?)x)]);

    internal static List<string> Strings(JsonNode? node) => node is JsonArray a ? [.. a.Select(n => n!.GetValue<string>())] : [];

    /// <summary>Writes the state's config (plus a layer, if any) as an image; the state then points at it.</summary>
    private async Task CommitAsync(StageState state, (string File, Digest DiffId, Digest Digest, long Size)? layer, BuildOptions options, CancellationToken cancellationToken)
    {
        bool docker = options.Format == "docker";
        var config = state.Config;
        config["created"] = Now();
        if (layer is { } l)
        {
            var desc = new Descriptor { MediaType = docker ? MediaTypes.DockerLayerGzip : MediaTypes.OciLayerGzip, Digest = l.Digest.ToString(), Size = l.Size };
            var s = File.OpenRead(l.File);
            await using (s.ConfigureAwait(false))
            {
                await Store.WriteBlobAsync(desc, s, cancellationToken).ConfigureAwait(false);
            }

            state.Layers.Add(desc);
            var rootfs = config["rootfs"] as JsonObject ?? new JsonObject { ["type"] = "layers" };
            config["rootfs"] = rootfs;
            var diffIds = rootfs["diff_ids"] as JsonArray ?? [];
            rootfs["diff_ids"] = diffIds;
            diffIds.Add(l.DiffId.ToString());
        }

        byte[] configBytes = Encoding.UTF8.GetBytes(config.ToJsonString());
        var configDigest = Digest.Compute(configBytes);
        await Store.WriteBlobAsync(new Descriptor { MediaType = MediaTypes.OciConfig, Digest = configDigest.ToString(), Size = configBytes.Length }, new MemoryStream(configBytes), cancellationToken).ConfigureAwait(false);
        var layers = new JsonArray();
        foreach (var d in state.Layers)
        {
            string type = (d.MediaType, docker) switch
            {
                (MediaTypes.OciLayerGzip, true) => MediaTypes.DockerLayerGzip,
                (MediaTypes.DockerLayerGzip, false) => MediaTypes.OciLayerGzip,
                (MediaTypes.OciLayerZstd or MediaTypes.OciLayerTar, true) => throw new WharfException($"a layer of type {d.MediaType} cannot be written in docker format"),
                _ => d.MediaType,
            };
            layers.Add(new JsonObject { ["mediaType"] = type, ["digest"] = d.Digest, ["size"] = d.Size });
        }

        string manifestType = docker ? MediaTypes.DockerManifest : MediaTypes.OciManifest;
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = manifestType,
            ["config"] = new JsonObject { ["mediaType"] = docker ? MediaTypes.DockerConfig : MediaTypes.OciConfig, ["digest"] = configDigest.ToString(), ["size"] = configBytes.Length },
            ["layers"] = layers,
        };
        byte[] manifestBytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        var manifestDigest = Digest.Compute(manifestBytes);
        await Store.WriteBlobAsync(new Descriptor { MediaType = manifestType, Digest = manifestDigest.ToString(), Size = manifestBytes.Length }, new MemoryStream(manifestBytes), cancellationToken).ConfigureAwait(false);
        var now = DateTimeOffset.UtcNow;
        var record = new ImageRecord
        {
            Id = configDigest.Encoded,
            Digest = manifestDigest.ToString(),
            ManifestMediaType = manifestType,
            ManifestSize = manifestBytes.Length,
            Created = now,
            Added = now,
            Size = state.Layers.Sum(Store.UncompressedSize) + configBytes.Length + manifestBytes.Length,
            Blobs = [configDigest.ToString(), .. state.Layers.Select(d => d.Digest)],
        };
        Store.Update(images =>
        {
            var existing = images.FirstOrDefault(i => i.Id == record.Id);
            images.RemoveAll(i => i.Id == record.Id);
            images.Add(existing is null ? record : record with { Names = existing.Names });
            return 0;
        });
        state.ImageId = record.Id;
        state.ParentKey = record.Id;
    }

    /// <summary>Re-reads a cached image into the state (its config and layers).</summary>
    private bool TryCache(StageState state, string key, BuildOptions options)
    {
        if (options.NoCache || _cache.Get(key) is not { } id || Store.ReadImages().FirstOrDefault(i => i.Id == id) is not { } image)
        {
            return false;
        }

        var loaded = Load(image);
        state.Config = loaded.Config;
        state.Layers.Clear();
        state.Layers.AddRange(loaded.Layers);
        state.ImageId = image.Id;
        state.ParentKey = image.Id;
        Say(options, $"--> Using cache {image.Id}");
        return true;
    }

    internal static JsonObject History(string createdBy, bool empty)
    {
        var h = new JsonObject { ["created"] = Now(), ["created_by"] = createdBy };
        if (empty)
        {
            h["empty_layer"] = true;
        }

        return h;
    }

    private static void AddHistory(StageState state, JsonObject entry)
    {
        var history = state.Config["history"] as JsonArray ?? [];
        state.Config["history"] = history;
        history.Add(entry);
    }
}
