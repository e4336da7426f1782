using System.CommandLine;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary><c>wharf pull IMAGE</c>: progress on stderr, the image ID on stdout.</summary>
public static class PullCommand
{
    public static Command Create(CliContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var image = new Argument<string>("IMAGE") { Description = "Image to pull" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress output information when pulling images" };
        var tls = CliContext.TlsVerifyOption();
        var certDir = CliContext.CertDirOption();
        var authFile = CliContext.AuthFileOption();
        var creds = CliContext.CredsOption();
        var platform = new Option<string?>("--platform") { Description = "Specify the platform for selecting the image (OS/ARCH[/VARIANT])" };
        var arch = new Option<string?>("--arch") { Description = "Use ARCH instead of the architecture of the machine for choosing images" };
        var os = new Option<string?>("--os") { Description = "Use OS instead of the running OS for choosing images" };
        var variant = new Option<string?>("--variant") { Description = "Use VARIANT instead of the running architecture variant for choosing images" };
        var command = new Command(name, "Pull an image from a registry") { image, quiet, tls, certDir, authFile, creds, platform, arch, os, variant };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            string? o = parse.GetValue(os), a = parse.GetValue(arch), v = parse.GetValue(variant);
            if (parse.GetValue(platform) is { } p)
            {
                if (o is not null || a is not null)
                {
                    throw new WharfException("--platform option can not be specified with --arch or --os");
                }

                var parts = p.Split('/');
                if (parts.Length is < 2 or > 3)
                {
                    throw new WharfException($"invalid platform syntax for --platform=\"{p}\": expected OS/ARCH[/VARIANT]");
                }

                (o, a, v) = (parts[0], parts[1], parts.Length == 3 ? parts[2] : v);
            }

            var report = await context.Engine(parse).Registry.PullAsync(new PullOptions
            {
                Reference = parse.GetRequiredValue(image),
                Quiet = parse.GetValue(quiet),
                TlsVerify = parse.GetValue(tls),
                CertDir = parse.GetValue(certDir),
                AuthFile = parse.GetValue(authFile),
                Credentials = parse.GetValue(creds),
                Os = o,
                Architecture = a,
                Variant = v,
            }, ct).ConfigureAwait(false);
            await context.Out.WriteLineAsync(report.ImageId).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}
