using System.CommandLine;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary><c>wharf push IMAGE [DESTINATION]</c>: progress on stderr, nothing on stdout.</summary>
public static class PushCommand
{
    public static Command Create(CliContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var image = new Argument<string>("IMAGE");
        var destination = new Argument<string?>("DESTINATION") { Arity = ArgumentArity.ZeroOrOne };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress output information when pushing images" };
        var tls = CliContext.TlsVerifyOption();
        var certDir = CliContext.CertDirOption();
        var authFile = CliContext.AuthFileOption();
        var creds = CliContext.CredsOption();
        var digestFile = new Option<string?>("--digestfile") { Description = "Write the digest of the pushed image to the specified file" };
        var command = new Command(name, "Push an image to a specified destination") { image, destination, quiet, tls, certDir, authFile, creds, digestFile };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            await context.Engine(parse).Registry.PushAsync(new PushOptions
            {
                Source = parse.GetRequiredValue(image),
                Destination = parse.GetValue(destination),
                Quiet = parse.GetValue(quiet),
                TlsVerify = parse.GetValue(tls),
                CertDir = parse.GetValue(certDir),
                AuthFile = parse.GetValue(authFile),
                Credentials = parse.GetValue(creds),
                DigestFile = parse.GetValue(digestFile),
            }, ct).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}
