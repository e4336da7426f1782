using Wharf.Engine;
using Wharf.Engine.Rootless;

namespace Wharf.Cli;

public static class Program
{
    public static Task<int> Main(string[] args)
    {
        if (NeedsUserNamespace(args) && UserNamespace.GetUid() != 0)
        {
            // Rootless: every verb that touches unpacked layers, mounts or runc runs as root of the
            // user's own namespace, as rootless podman's do. Enter returns only when it failed.
            try
            {
                Console.Error.WriteLine("Error: " + UserNamespace.Enter(UserNamespace.SelfCommand(), args).Message);
            }
            catch (WharfException e)
            {
                Console.Error.WriteLine("Error: " + e.Message);
            }

            return Task.FromResult(125);
        }

        return WharfCli.InvokeAsync(args, CliIo.Console());
    }

    /// <summary>
    /// Verbs that never touch the local store's unpacked content or a container stay outside: the
    /// registry verbs, help and version, and the job verbs that only talk to Slurm or read records
    /// (sbatch and scancel must see the user's real UID, which only the host namespace shows).
    /// </summary>
    internal static bool NeedsUserNamespace(string[] args)
    {
        if (Environment.GetEnvironmentVariable("WHARF_USERNS") == "host")
        {
            return false;
        }

        var words = new List<string>();
        for (int i = 0; i < args.Length && words.Count < 2; i++)
        {
            string a = args[i];
            if (a == "--")
            {
                break;
            }

            if (a is "--root" or "--runroot" or "--storage-driver" or "--log-level" or "--events-backend" or "--runtime" or "--runtime-flag"
                or "--cgroup-manager" or "--storage-opt" or "--volumepath" or "--tmpdir")
            {
                i++;
                continue;
            }

            if (!a.StartsWith('-'))
            {
                words.Add(a);
            }
            else if (words.Count == 0 && a is "-h" or "--help" or "-?" or "--version" or "-v")
            {
                return false;
            }
        }

        return words switch
        {
            [] => false,
            ["login" or "logout" or "search" or "version" or "help" or "completion" or "__complete", ..] => false,
            ["job", "submit" or "ls" or "logs" or "status" or "cancel", ..] => false,
            ["job"] => false,
            _ => true,
        };
    }
}
