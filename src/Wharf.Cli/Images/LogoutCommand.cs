using System.CommandLine;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary><c>wharf logout [REGISTRY]</c> or <c>--all</c>.</summary>
public static class LogoutCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var registry = new Argument<string?>("REGISTRY") { Arity = ArgumentArity.ZeroOrOne };
        var all = new Option<bool>("--all", "-a") { Description = "Remove the cached credentials for all registries in the auth file" };
        var authFile = CliContext.AuthFileOption();
        var command = new Command("logout", "Log out of a container registry") { registry, all, authFile };
        command.SetAction(parse => context.Run(() =>
        {
            string message = context.Engine(parse).Registry.Logout(new LogoutOptions
            {
                Registry = parse.GetValue(registry),
                All = parse.GetValue(all),
                AuthFile = parse.GetValue(authFile),
            });
            context.Out.WriteLine(message);
            return 0;
        }));
        return command;
    }
}
