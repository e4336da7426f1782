using Wharf.Engine.Containers;
using Wharf.Engine.Images;
using Wharf.Oci;

namespace Wharf.Engine.Build;

internal sealed partial class BuildSession
{
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
                    state.Run = run with { WorkingDir = dir.StartsWith('/') ? Normalize(dir) : Normalize(current.TrimEnd('/') + "/" + dir) };
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
                state.Run = run with { Healthcheck = Healthcheck(ins) };
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
        _cache.Put(key, state.ImageId!);
    }

    private static List<string> Shell(StageState state) =>
        state.Run.Shell is { Count: > 0 } shell ? [.. shell] : ["/bin/sh", "-c"];

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

    private static HealthcheckConfig Healthcheck(Instruction ins)
    {
        var rest = ins.Arguments.Trim();
        if (rest.Equals("NONE", StringComparison.OrdinalIgnoreCase))
        {
            return new HealthcheckConfig { Test = ["NONE"] };
        }

        if (!rest.StartsWith("CMD", StringComparison.OrdinalIgnoreCase))
        {
            throw new WharfException($"Dockerfile:{ins.Line}: HEALTHCHECK expects NONE or CMD");
        }

        string cmd = rest[3..].Trim();
        long? Duration(string flag) => ins.Flags.TryGetValue(flag, out string? v) ? DurationNanos(v, ins) : null;
        return new HealthcheckConfig
        {
            Test = Dockerfile.TryJsonArray(cmd) is { } exec ? ["CMD", .. exec] : ["CMD-SHELL", cmd],
            Interval = Duration("interval"),
            Timeout = Duration("timeout"),
            StartPeriod = Duration("start-period"),
            StartInterval = Duration("start-interval"),
            Retries = ins.Flags.TryGetValue("retries", out string? r) ? int.Parse(r, System.Globalization.CultureInfo.InvariantCulture) : null,
        };
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
    private async Task RunAsync(Instruction ins, StageState state, CancellationToken cancellationToken)
    {
        var options = _options;
        var argv = ins.ExecForm ?? [.. Shell(state), ins.Arguments];
        var env = state.Args.Where(a => state.EnvValue(a.Key) is null).Select(a => a.Key + "=" + a.Value).Order(StringComparer.Ordinal).ToList();
        string createdBy = ins.ExecForm is null ? string.Join(' ', Shell(state)) + " " + ins.Arguments : string.Join(' ', argv);
        string key = Hash(state.ParentKey + "\nRUN " + createdBy + "\n" + string.Join('\n', env) + "\n" + options.Network + "\n" + options.Format);
        if (TryCache(state, key))
        {
            return;
        }

        if (state.ImageId is null)
        {
            // FROM scratch then RUN: the container needs an image to start from.
            await CommitAsync(state, null, cancellationToken).ConfigureAwait(false);
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
                _progress.Failure($"Dockerfile:{ins.Line}: {ins.Original} exited with status {code}");
                throw new WharfException($"building at STEP \"RUN {string.Join(' ', argv)}\": while running runtime: exit status {code}", code);
            }

            var changes = _containers.Diff(record.Id);
            string layerFile = Path.Combine(_containers.Store.Dir(record.Id), "build-layer.tar.gz");
            AddHistory(state, History(createdBy, empty: changes.Count == 0));
            if (changes.Count == 0)
            {
                await CommitAsync(state, null, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var layer = await Layer.FromChangesAsync(changes, layerFile, _format, cancellationToken).ConfigureAwait(false);
                await CommitAsync(state, layer, cancellationToken).ConfigureAwait(false);
            }

            _cache.Put(key, state.ImageId!);
        }
        finally
        {
            _containers.Remove(record.Id, force: true);
        }
    }
}
