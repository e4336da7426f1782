using System.CommandLine;
using Wharf.Cli.Output;
using Wharf.Engine;
using Wharf.Oci;

namespace Wharf.Cli.Images;

/// <summary>
/// <c>wharf image mirror [SOURCE...] DESTINATION</c>: bulk, resumable copies to a registry or an
/// OCI layout (skopeo sync's flags where they fit). Progress on stderr, one summary line on stdout.
/// </summary>
public static class MirrorCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var arguments = new Argument<string[]>("SOURCE... DESTINATION") { Arity = ArgumentArity.OneOrMore, Description = "Images ([docker://]REF or oci:DIR[:REF]), then docker://HOST[/PREFIX] or oci:DIR" };
        var imagesFrom = new Option<string?>("--images-from") { Description = "Read the images to copy from FILE, one per line (# starts a comment)" };
        var allTags = new Option<bool>("--all-tags") { Description = "Copy every tag of a repository given without tag or digest" };
        var all = new Option<bool>("--all", "-a") { Description = "Copy every platform of a multi-platform image and the list itself (the default)" };
        var platform = new Option<string[]>("--platform") { Description = "Copy only this platform of a multi-platform image (OS/ARCH[/VARIANT], repeatable)", AllowMultipleArgumentsPerToken = false };
        var scoped = new Option<bool>("--scoped") { Description = "Keep the source registry host in the destination repository name" };
        var keepGoing = new Option<bool>("--keep-going") { Description = "Report an image that fails and copy the rest; exit 125 at the end" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress the progress lines" };
        var authFile = CliContext.AuthFileOption();
        var srcAuthFile = new Option<string?>("--src-authfile") { Description = "Authentication file for the source registries" };
        var destAuthFile = new Option<string?>("--dest-authfile") { Description = "Authentication file for the destination registry" };
        var srcCreds = new Option<string?>("--src-creds") { Description = "USERNAME[:PASSWORD] for the source registries" };
        var destCreds = new Option<string?>("--dest-creds") { Description = "USERNAME[:PASSWORD] for the destination registry" };
        var srcCertDir = new Option<string?>("--src-cert-dir") { Description = "Certificates for the source registries" };
        var destCertDir = new Option<string?>("--dest-cert-dir") { Description = "Certificates for the destination registry" };
        var srcTls = CliContext.BoolValueOption("--src-tls-verify", "Require HTTPS and verify certificates when talking to the source registries");
        var destTls = CliContext.BoolValueOption("--dest-tls-verify", "Require HTTPS and verify certificates when talking to the destination registry");
        var command = new Command("mirror", "Copy many images to a registry or an OCI layout directory, resumably")
        {
            arguments, imagesFrom, allTags, all, platform, scoped, keepGoing, quiet, authFile, srcAuthFile, destAuthFile,
            srcCreds, destCreds, srcCertDir, destCertDir, srcTls, destTls,
        };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var args = parse.GetRequiredValue(arguments);
            string[] platforms = parse.GetValue(platform) ?? [];
            if (parse.GetValue(all) && platforms.Length > 0)
            {
                throw new WharfException("--all and --platform cannot be used together");
            }

            var wanted = platforms.Select(ParsePlatform).ToList();
            var report = await context.Engine(parse).Registry.MirrorAsync(new MirrorOptions
            {
                Sources = args[..^1],
                Destination = args[^1],
                ImagesFrom = parse.GetValue(imagesFrom),
                AllTags = parse.GetValue(allTags),
                Platforms = wanted,
                Scoped = parse.GetValue(scoped),
                KeepGoing = parse.GetValue(keepGoing),
                Quiet = parse.GetValue(quiet),
                SourceAccess = new RegistryAccess
                {
                    TlsVerify = parse.GetValue(srcTls),
                    AuthFile = parse.GetValue(srcAuthFile) ?? parse.GetValue(authFile),
                    Credentials = parse.GetValue(srcCreds),
                    CertDir = parse.GetValue(srcCertDir),
                },
                DestinationAccess = new RegistryAccess
                {
                    TlsVerify = parse.GetValue(destTls),
                    AuthFile = parse.GetValue(destAuthFile) ?? parse.GetValue(authFile),
                    Credentials = parse.GetValue(destCreds),
                    CertDir = parse.GetValue(destCertDir),
                },
            }, ct).ConfigureAwait(false);

            await context.Out.WriteLineAsync(
                $"Mirrored {report.Copied} of {report.Images} images: {report.BlobsCopied} blobs copied ({Units.HumanSize(report.BytesCopied, 3)}), {report.BlobsSkipped} skipped")
                .ConfigureAwait(false);
            if (report.Failures.Count == 1)
            {
                throw new WharfException("copying " + report.Failures[0]);
            }

            if (report.Failures.Count > 1)
            {
                throw new WharfException($"{report.Failures.Count} of {report.Images} images failed:\n" + string.Join('\n', report.Failures.Select(f => " * " + f)));
            }

            return 0;
        }));
        return command;
    }

    private static Platform ParsePlatform(string text)
    {
        var parts = text.Split('/');
        if (parts.Length is < 2 or > 3 || parts.Any(p => p.Length == 0))
        {
            throw new WharfException($"invalid platform syntax for --platform=\"{text}\": expected OS/ARCH[/VARIANT]");
        }

        return new Platform { Os = parts[0], Architecture = parts[1], Variant = parts.Length == 3 ? parts[2] : null };
    }
}
