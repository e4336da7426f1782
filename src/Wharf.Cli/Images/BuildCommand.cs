using System.CommandLine;
using Wharf.Cli.Containers;
using Wharf.Cli.Output;
using Wharf.Engine;
using Wharf.Engine.Build;

namespace Wharf.Cli.Images;

/// <summary><c>wharf build [flags] CONTEXT</c>: buildah's step output on stdout, the image ID last.</summary>
public static class BuildCommand
{
    public static Command Create(CliContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var dir = new Argument<string>("CONTEXT") { Description = "The build context directory", Arity = ArgumentArity.ZeroOrOne, DefaultValueFactory = _ => "." };
        var tags = new Option<string[]>("--tag", "-t") { Description = "Name and optionally a tag for the built image (several allowed)" };
        var file = new Option<string?>("--file", "-f") { Description = "The Containerfile or Dockerfile (default: Containerfile, then Dockerfile, in the context); - reads it from stdin" };
        var buildArgs = new Option<string[]>("--build-arg") { Description = "ARG=VALUE for the build" };
        var target = new Option<string?>("--target") { Description = "The stage to build and tag" };
        var noCache = new Option<bool>("--no-cache") { Description = "Do not use cached intermediate images" };
        var pull = new Option<string?>("--pull")
        {
            Description = "always (or bare --pull, true): pull base images even when present; never: use local images only; missing (default), newer, false: pull what is missing",
            Arity = ArgumentArity.ZeroOrOne,
            CustomParser = r => r.Tokens.Count == 0 ? "true" : r.Tokens[0].Value,
        };
        var format = new Option<string>("--format") { Description = "Image format: oci or docker", DefaultValueFactory = _ => "oci" };
        var labels = new Option<string[]>("--label") { Description = "Label KEY=VALUE on the built image" };
        var network = new Option<string>("--network") { Description = "Network for RUN: host or none", DefaultValueFactory = _ => "host" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print only the image ID" };
        var iidfile = new Option<string?>("--iidfile") { Description = "Write the image ID to the file" };
        var buildArgFiles = new Option<string[]>("--build-arg-file") { Description = "File of ARG=VALUE lines for the build (# comments and blank lines ignored); --build-arg wins" };
        var annotations = new Option<string[]>("--annotation") { Description = "Annotation KEY=VALUE on the built image's manifest" };
        var layers = new Option<bool>("--layers") { Description = "Keep and reuse intermediate images (the build cache)", DefaultValueFactory = _ => true };
        var squash = new Option<bool>("--squash") { Description = "Squash the layers the build adds into one" };
        var squashAll = new Option<bool>("--squash-all") { Description = "Squash every layer, the base image's too, into one" };
        var secrets = new Option<string[]>("--secret") { Description = "id=ID,src=FILE (or env=VAR): what RUN --mount=type=secret,id=ID mounts at /run/secrets/ID" };
        var runtime = new Option<string?>("--runtime") { Description = "The OCI runtime for RUN steps (name on PATH or path)" };
        var ulimits = new Option<string[]>("--ulimit") { Description = "Ulimit for RUN steps, as run's --ulimit" };
        var refused = new RefusedBuildFlags();
        var tls = CliContext.TlsVerifyOption();
        var certDir = CliContext.CertDirOption();
        var authFile = CliContext.AuthFileOption();
        var creds = CliContext.CredsOption();
        var command = new Command(name, "Build an image using instructions from Containerfiles")
        {
            dir, tags, file, buildArgs, target, noCache, pull, format, labels, network, quiet, iidfile, tls, certDir, authFile, creds,
            buildArgFiles, annotations, layers, squash, squashAll, secrets, runtime, ulimits,
        };
        foreach (var o in refused.Options)
        {
            command.Options.Add(o);
        }

        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            refused.Refuse(parse);
            bool squashNew = parse.GetValue(squash), squashEvery = parse.GetValue(squashAll);
            if ((squashNew && parse.GetResult(layers) is { Implicit: false }) || (squashNew && squashEvery))
            {
                throw new WharfException("cannot specify --squash with --layers and --squash-all with --squash");
            }

            var args = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string argFile in parse.GetValue(buildArgFiles) ?? [])
            {
                foreach (var (k, v) in Pairs(ArgFileLines(argFile), "--build-arg-file", fromEnvironment: true))
                {
                    args[k] = v;
                }
            }

            foreach (var (k, v) in Pairs(parse.GetValue(buildArgs), "--build-arg", fromEnvironment: true))
            {
                args[k] = v;
            }

            var secretMap = Secrets(parse.GetValue(secrets));
            string? fileName = parse.GetValue(file);
            string? fileText = fileName == "-" ? await context.Io.In.ReadToEndAsync(ct).ConfigureAwait(false) : null;
            // podman's --pull takes a value only as --pull=VALUE: a word after a bare --pull that is no
            // policy is the context (the parser here cannot tell "--pull x" from "--pull=x").
            string contextDir = parse.GetValue(dir) ?? ".";
            string? pullPolicy = parse.GetResult(pull) is { Implicit: false } ? parse.GetValue(pull) : null;
            if (pullPolicy is not (null or "true" or "false" or "always" or "missing" or "never" or "newer"))
            {
                if (parse.GetResult(dir) is null or { Implicit: true })
                {
                    contextDir = pullPolicy;
                    pullPolicy = "true";
                }
                else
                {
                    pullPolicy = "missing";
                }
            }

            var engine = ContainerCli.Engine(context, parse);
            engine.UseRuntime(parse.GetValue(runtime));
            bool isQuiet = parse.GetValue(quiet);
            var report = await new Builder(engine).BuildAsync(new BuildOptions
            {
                Context = contextDir,
                File = fileText is null ? fileName : null,
                FileText = fileText,
                Tags = parse.GetValue(tags) ?? [],
                BuildArgs = args,
                Target = parse.GetValue(target),
                NoCache = parse.GetValue(noCache),
                Pull = pullPolicy is "true" or "always",
                PullNever = pullPolicy == "never",
                Format = parse.GetValue(format) ?? "oci",
                Labels = Pairs(parse.GetValue(labels), "--label", fromEnvironment: false),
                Annotations = Pairs(parse.GetValue(annotations), "--annotation", fromEnvironment: false),
                Layers = parse.GetValue(layers),
                Squash = squashEvery ? SquashMode.All : squashNew ? SquashMode.New : SquashMode.None,
                Secrets = secretMap,
                Ulimits = parse.GetValue(ulimits) ?? [],
                Network = parse.GetValue(network) ?? "host",
                Quiet = isQuiet,
                Progress = new ProgressLines(context.Out, context.Err, ProgressLines.BuildahWarning, isQuiet, quietWarnings: false),
                TlsVerify = parse.GetValue(tls),
                CertDir = parse.GetValue(certDir),
                AuthFile = parse.GetValue(authFile),
                Credentials = parse.GetValue(creds),
            }, ct).ConfigureAwait(false);
            await context.Out.WriteLineAsync(report.ImageId).ConfigureAwait(false);
            await context.Out.FlushAsync(ct).ConfigureAwait(false);
            if (parse.GetValue(iidfile) is { } path)
            {
                await File.WriteAllTextAsync(path, "sha256:" + report.ImageId, ct).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }

    /// <summary>--build-arg-file: one ARG=VALUE a line; blank lines and # comments are skipped.</summary>
    private static string[] ArgFileLines(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WharfException($"reading build args from {path}: {(e is FileNotFoundException or DirectoryNotFoundException ? "no such file or directory" : e.Message)}");
        }

        return [.. text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))];
    }

    /// <summary>--secret id=ID,src=FILE[,type=file|env][,env=VAR]: read when the build starts, as podman does.</summary>
    private static Dictionary<string, BuildSecret> Secrets(string[]? specs)
    {
        const string Usage = "creating build executor: incorrect secret flag format: should be --secret id=foo,src=bar[,env=ENV,type=file|env]";
        var result = new Dictionary<string, BuildSecret>(StringComparer.Ordinal);
        foreach (string spec in specs ?? [])
        {
            string? id = null, src = null, env = null, type = "file";
            foreach (string part in spec.Split(','))
            {
                int eq = part.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    throw new WharfException(Usage);
                }

                string value = part[(eq + 1)..];
                switch (part[..eq])
                {
                    case "id":
                        id = value;
                        break;
                    case "src":
                    case "source":
                        src = value;
                        break;
                    case "env":
                        env = value;
                        break;
                    case "type" when value is "file" or "env":
                        type = value;
                        break;
                    default:
                        throw new WharfException(Usage);
                }
            }

            if (type == "env")
            {
                env ??= src;
                src = null;
            }

            id ??= src is not null ? Path.GetFileName(src) : env;
            if (id is null || (src is null && env is null))
            {
                throw new WharfException(Usage);
            }

            byte[] content;
            if (src is not null)
            {
                try
                {
                    content = File.ReadAllBytes(src);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new WharfException($"creating build executor: could not parse secrets: stat {src}: {(e is FileNotFoundException or DirectoryNotFoundException ? "no such file or directory" : e.Message)}");
                }
            }
            else
            {
                content = System.Text.Encoding.UTF8.GetBytes(Environment.GetEnvironmentVariable(env!)
                    ?? throw new WharfException($"creating build executor: could not parse secrets: secret env var {env} not set"));
            }

            result[id] = new BuildSecret(id, content);
        }

        return result;
    }

    /// <summary>K=V items; a bare K takes its value from the environment (--build-arg) or is empty (--label).</summary>
    private static Dictionary<string, string> Pairs(string[]? items, string flag, bool fromEnvironment)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string item in items ?? [])
        {
            int eq = item.IndexOf('=', StringComparison.Ordinal);
            if (eq == 0)
            {
                throw new WharfException($"{flag} {item}: expected KEY=VALUE");
            }

            if (eq < 0)
            {
                if (fromEnvironment)
                {
                    if (Environment.GetEnvironmentVariable(item) is { } v)
                    {
                        result[item] = v;
                    }
                }
                else
                {
                    result[item] = string.Empty;
                }
            }
            else
            {
                result[item[..eq]] = item[(eq + 1)..];
            }
        }

        return result;
    }
}
