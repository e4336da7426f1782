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
        var file = new Option<string?>("--file", "-f") { Description = "The Containerfile or Dockerfile (default: Containerfile, then Dockerfile, in the context)" };
        var buildArgs = new Option<string[]>("--build-arg") { Description = "ARG=VALUE for the build" };
        var target = new Option<string?>("--target") { Description = "The stage to build and tag" };
        var noCache = new Option<bool>("--no-cache") { Description = "Do not use cached intermediate images" };
        var pull = new Option<bool>("--pull") { Description = "Pull base images even when present locally" };
        var format = new Option<string>("--format") { Description = "Image format: oci or docker", DefaultValueFactory = _ => "oci" };
        var labels = new Option<string[]>("--label") { Description = "Label KEY=VALUE on the built image" };
        var network = new Option<string>("--network") { Description = "Network for RUN: host or none", DefaultValueFactory = _ => "host" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print only the image ID" };
        var iidfile = new Option<string?>("--iidfile") { Description = "Write the image ID to the file" };
        var tls = CliContext.TlsVerifyOption();
        var certDir = CliContext.CertDirOption();
        var authFile = CliContext.AuthFileOption();
        var creds = CliContext.CredsOption();
        var command = new Command(name, "Build an image using instructions from Containerfiles")
        {
            dir, tags, file, buildArgs, target, noCache, pull, format, labels, network, quiet, iidfile, tls, certDir, authFile, creds,
        };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = ContainerCli.Engine(context, parse);
            bool isQuiet = parse.GetValue(quiet);
            var report = await new Builder(engine).BuildAsync(new BuildOptions
            {
                Context = parse.GetValue(dir) ?? ".",
                File = parse.GetValue(file),
                Tags = parse.GetValue(tags) ?? [],
                BuildArgs = Pairs(parse.GetValue(buildArgs), "--build-arg", fromEnvironment: true),
                Target = parse.GetValue(target),
                NoCache = parse.GetValue(noCache),
                Pull = parse.GetValue(pull),
                Format = parse.GetValue(format) ?? "oci",
                Labels = Pairs(parse.GetValue(labels), "--label", fromEnvironment: false),
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
