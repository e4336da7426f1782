using System.Text.Json.Nodes;
using Wharf.Engine.Containers;

namespace Wharf.Engine.Build;

public sealed partial class Builder
{
    private async Task StepAsync(
        Instruction ins, StageState state, Stage stage, IReadOnlyList<Stage> stages, Dictionary<int, string> results,
        Dictionary<string, string> globals, HashSet<string> consumed, string context, ContextIgnore ignore, string work,
        BuildOptions options, char escape, bool lastStep, CancellationToken cancellationToken)
    {
        string Expand(string text) => Words.Expand(text, state.Lookup, escape);
        var run = state.Run;
        string nop = "/bin/sh -c #(nop) ";
        switch (ins.Keyword)
        {
            case "ARG":
                foreach (var (k, v) in ArgPairs(ins, state.Lookup, escape))
                {
                    if (options.BuildArgs.TryGetValue(k, out string? given))
                    {
                        consumed.Add(k);
                        state.Args[k] = given;
                    }
                    else if (v is not null)
                    {
                        state.Args[k] = v;
                    }
                    else if (globals.TryGetValue(k, out string? global))
                    {
                        state.Args[k] = global;
                    }
                    else
                    {
                        state.Args[k] = string.Empty;
                    }
                }

                await MetadataAsync(state, nop + ins.Original, options, cancellationToken).ConfigureAwait(false);
                return;
            case "ENV":
                {
                    var env = Strings(run["Env"]);
                    foreach (var (k, v) in Words.Pairs(Expand(ins.Arguments), escape))
                    {
                        // An existing variable keeps its place (Docker and buildah replace in place).
                        int at = env.FindIndex(e => e.StartsWith(k + "=", StringComparison.Ordinal));
                        if (at >= 0)
                        {
                            env[at] = k + "=" + v;
                        }
                        else
                        {
                            env.Add(k + "=" + v);
                        }
                    }

                    run["Env"] = Arr(env);
                    break;
                }

            case "LABEL":
                {
                    var labels = run["Labels"] as JsonObject ?? [];
                    run["Labels"] = labels;
                    foreach (var (k, v) in Words.Pairs(Expand(ins.Arguments), escape))
                    {
                        labels[k] = v;
                    }

                    break;
                }

            case "MAINTAINER":
                state.Config["author"] = Expand(ins.Arguments);
                break;
            case "WORKDIR":
                {
                    string dir = Expand(ins.Arguments).Trim();
                    string current = run["WorkingDir"]?.GetValue<string>() is { Length: > 0 } w ? w : "/";
                    run["WorkingDir"] = dir.StartsWith('/') ? Normalize(dir) : Normalize(current.TrimEnd('/') + "/" + dir);
                    break;
                }

            case "USER":
                run["User"] = Expand(ins.Arguments).Trim();
                break;
            case "STOPSIGNAL":
                run["StopSignal"] = Expand(ins.Arguments).Trim();
                break;
            case "EXPOSE":
                {
                    var ports = run["ExposedPorts"] as JsonObject ?? [];
                    run["ExposedPorts"] = ports;
                    foreach (string p in Words.Split(Expand(ins.Arguments), escape))
                    {
                        ports[p.Contains('/', StringComparison.Ordinal) ? p : p + "/tcp"] = new JsonObject();
                    }

                    break;
                }

            case "VOLUME":
                {
                    var volumes = run["Volumes"] as JsonObject ?? [];
                    run["Volumes"] = volumes;
                    foreach (string v in Dockerfile.TryJsonArray(Expand(ins.Arguments)) ?? Words.Split(Expand(ins.Arguments), escape))
                    {
                        volumes[v] = new JsonObject();
                    }

                    break;
                }

            case "CMD":
                run["Cmd"] = Arr(ins.ExecForm ?? [.. Shell(state), ins.Arguments]);
                break;
            case "ENTRYPOINT":
                run["Entrypoint"] = Arr(ins.ExecForm ?? [.. Shell(state), ins.Arguments]);
                if (run["Cmd"] is not null && !stage.Instructions.Any(i => i.Keyword == "CMD"))
                {
                    // Dockerfile reference: ENTRYPOINT resets a CMD inherited from the base image.
                    run.Remove("Cmd");
                }

                break;
            case "SHELL":
                run["Shell"] = Arr(ins.ExecForm ?? throw new WharfException($"Dockerfile:{ins.Line}: SHELL requires the arguments to be in JSON form"));
                break;
            case "ONBUILD":
                {
                    var onbuild = run["OnBuild"] as JsonArray ?? [];
                    run["OnBuild"] = onbuild;
                    onbuild.Add(ins.Arguments);
                    break;
                }

            case "HEALTHCHECK":
                run["Healthcheck"] = Healthcheck(ins);
                break;
            case "RUN":
                await RunAsync(ins, state, options, cancellationToken).ConfigureAwait(false);
                return;
            case "COPY":
            case "ADD":
                await CopyAsync(ins, state, stages, stage, results, context, ignore, work, options, escape, cancellationToken).ConfigureAwait(false);
                return;
            default:
                throw new WharfException($"Dockerfile:{ins.Line}: {ins.Keyword} is not supported");
        }

        string shown = ins.Keyword is "CMD" or "ENTRYPOINT" or "ONBUILD" or "SHELL" or "HEALTHCHECK" ? ins.Original : ins.Keyword + " " + Expand(ins.Arguments);
        await MetadataAsync(state, nop + shown, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A metadata-only step: history with empty_layer, no new layer; cached by parent and text.</summary>
    private async Task MetadataAsync(StageState state, string createdBy, BuildOptions options, CancellationToken cancellationToken)
    {
        string key = Builder.Hash(state.ParentKey + "\n" + createdBy + "\n" + options.Format);
        if (TryCache(state, key, options))
        {
            return;
        }

        AddHistory(state, History(createdBy, empty: true));
        await CommitAsync(state, null, options, cancellationToken).ConfigureAwait(false);
        _cache.Put(key, state.ImageId!);
    }

    private static List<string> Shell(StageState state) =>
        state.Run["Shell"] is JsonArray a && a.Count > 0 ? Strings(a) : ["/bin/sh", "-c"];

    private static string Normalize(string path)
    {
        var parts = new List<string>();
        foreach (string p in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (p == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }
            }
            else if (p != ".")
            {
                parts.Add(p);
            }
        }

        return "/" + string.Join('/', parts);
    }

    private static JsonObject Healthcheck(Instruction ins)
    {
        var rest = ins.Arguments.Trim();
        if (rest.Equals("NONE", StringComparison.OrdinalIgnoreCase))
        {
            return new JsonObject { ["Test"] = Arr(["NONE"]) };
        }

        if (!rest.StartsWith("CMD", StringComparison.OrdinalIgnoreCase))
        {
            throw new WharfException($"Dockerfile:{ins.Line}: HEALTHCHECK expects NONE or CMD");
        }

        string cmd = rest[3..].Trim();
        var test = Dockerfile.TryJsonArray(cmd) is { } exec ? ["CMD", .. exec] : new List<string> { "CMD-SHELL", cmd };
        var hc = new JsonObject { ["Test"] = Arr(test) };
        foreach (var (flag, field) in new[] { ("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"), ("start-interval", "StartInterval") })
        {
            if (ins.Flags.TryGetValue(flag, out string? v))
            {
                hc[field] = DurationNanos(v, ins);
            }
        }

        if (ins.Flags.TryGetValue("retries", out string? r))
        {
            hc["Retries"] = int.Parse(r, System.Globalization.CultureInfo.InvariantCulture);
        }

        return hc;
    }

    /// <summary>Go durations as the config stores them: nanoseconds (30s, 1m30s, 500ms).</summary>
    private static long DurationNanos(string text, Instruction ins)
    {
        var m = System.Text.RegularExpressions.Regex.Matches(text, "([0-9]+(?:\\.[0-9]+)?)(ns|us|ms|s|m|h)");
        if (m.Count == 0 || string.Concat(m.Select(x => x.Value)) != text)
        {
            throw new WharfException($"Dockerfile:{ins.Line}: invalid duration \"{text}\"");
        }

        double total = 0;
        foreach (System.Text.RegularExpressions.Match x in m)
        {
            double n = double.Parse(x.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            total += n * x.Groups[2].Value switch { "ns" => 1, "us" => 1e3, "ms" => 1e6, "s" => 1e9, "m" => 60e9, _ => 3600e9 };
        }

        return (long)total;
    }

    /// <summary>RUN: a container from the current image with the build args in its environment; its changes become a layer.</summary>
    private async Task RunAsync(Instruction ins, StageState state, BuildOptions options, CancellationToken cancellationToken)
    {
        var argv = ins.ExecForm ?? [.. Shell(state), ins.Arguments];
        var env = state.Args.Where(a => state.EnvValue(a.Key) is null).Select(a => a.Key + "=" + a.Value).Order(StringComparer.Ordinal).ToList();
        string createdBy = ins.ExecForm is null ? string.Join(' ', Shell(state)) + " " + ins.Arguments : string.Join(' ', argv);
        string key = Hash(state.ParentKey + "\nRUN " + createdBy + "\n" + string.Join('\n', env) + "\n" + options.Network + "\n" + options.Format);
        if (TryCache(state, key, options))
        {
            return;
        }

        if (state.ImageId is null)
        {
            // FROM scratch then RUN: the container needs an image to start from.
            await CommitAsync(state, null, options, cancellationToken).ConfigureAwait(false);
        }

        var record = await _containers.CreateAsync(new CreateOptions
        {
            Image = state.ImageId!,
            Command = argv,
            Entrypoint = string.Empty,
            Env = env,
            Network = options.Network,
            Pull = "never",
            Quiet = true,
        }, cancellationToken).ConfigureAwait(false);
        try
        {
            int code;
            using (options.Quiet ? BuildNative.StdoutToStderr() : null)
            {
                code = await _containers.StartAsync(record.Id, attach: true, interactive: false, cancellationToken).ConfigureAwait(false);
            }

            if (code != 0)
            {
                await _err.WriteLineAsync($"Dockerfile:{ins.Line}: {ins.Original} exited with status {code}").ConfigureAwait(false);
                throw new WharfException($"building at STEP \"RUN {string.Join(' ', argv)}\": while running runtime: exit status {code}", code);
            }

            var changes = _containers.Diff(record.Id);
            string layerFile = Path.Combine(_containers.Store.Dir(record.Id), "build-layer.tar.gz");
            AddHistory(state, History(createdBy, empty: changes.Count == 0));
            if (changes.Count == 0)
            {
                await CommitAsync(state, null, options, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var (diffId, digest, size, _) = await ContainerEngine.WriteLayerAsync(changes, layerFile, cancellationToken).ConfigureAwait(false);
                await CommitAsync(state, (layerFile, diffId, digest, size), options, cancellationToken).ConfigureAwait(false);
            }

            _cache.Put(key, state.ImageId!);
        }
        finally
        {
            _containers.Remove(record.Id, force: true);
        }
    }
}
