using System.CommandLine;
using System.Text;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary><c>wharf login [REGISTRY]</c>: <c>Login Succeeded!</c>, credentials in auth.json.</summary>
public static class LoginCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var registry = new Argument<string?>("REGISTRY") { Arity = ArgumentArity.ZeroOrOne };
        var username = new Option<string?>("--username", "-u") { Description = "Username for registry" };
        var password = new Option<string?>("--password", "-p") { Description = "Password for registry" };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Take the password from stdin" };
        var getLogin = new Option<bool>("--get-login") { Description = "Return the current login user for the registry" };
        var authFile = CliContext.AuthFileOption();
        var tls = CliContext.TlsVerifyOption();
        var certDir = CliContext.CertDirOption();
        var command = new Command("login", "Log in to a container registry") { registry, username, password, passwordStdin, getLogin, authFile, tls, certDir };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            string? pw = parse.GetValue(password);
            if (parse.GetValue(passwordStdin))
            {
                if (pw is not null)
                {
                    throw new WharfException("can't specify both --password-stdin and --password");
                }

                if (parse.GetValue(username) is null)
                {
                    throw new WharfException("must provide --username with --password-stdin");
                }

                pw = (await context.Io.In.ReadToEndAsync(ct).ConfigureAwait(false)).TrimEnd('\n', '\r');
            }

            var report = await context.Engine(parse).Registry.LoginAsync(new LoginOptions
            {
                Registry = parse.GetValue(registry),
                Username = parse.GetValue(username),
                Password = pw,
                AuthFile = parse.GetValue(authFile),
                TlsVerify = parse.GetValue(tls),
                CertDir = parse.GetValue(certDir),
                GetLogin = parse.GetValue(getLogin),
                Prompt = context.Io.StdinIsTerminal ? (prompt, secret) => Prompt(context, prompt, secret) : (prompt, _) => ReadLine(context, prompt),
            }, ct).ConfigureAwait(false);
            await context.Out.WriteLineAsync(report.Message).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }

    private static string? ReadLine(CliContext context, string prompt)
    {
        context.Out.Write(prompt);
        context.Out.Flush();
        return context.Io.In.ReadLine();
    }

    private static string? Prompt(CliContext context, string prompt, bool secret)
    {
        if (!secret)
        {
            return ReadLine(context, prompt);
        }

        context.Out.Write(prompt);
        context.Out.Flush();
        var sb = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                context.Out.WriteLine();
                return sb.ToString();
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                if (sb.Length > 0)
                {
                    sb.Length--;
                }

                continue;
            }

            sb.Append(key.KeyChar);
        }
    }
}
