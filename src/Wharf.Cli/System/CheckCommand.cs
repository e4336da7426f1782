using System.CommandLine;
using Wharf.Engine;

namespace Wharf.Cli.SystemCommands;

/// <summary>
/// <c>wharf system check</c>: podman's verb for the store. One line per problem on stdout; exit
/// 125 when there is any, unless <c>--repair</c> removed them (then one <c>Removed:</c> line each, exit 0).
/// </summary>
public static class CheckCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var quick = new Option<bool>("--quick", "-q") { Description = "Skip time-consuming checks (blob contents are not re-hashed)" };
        var repair = new Option<bool>("--repair", "-r") { Description = "Remove inconsistencies: damaged blobs and layers, and the images that need them" };
        var force = new Option<bool>("--force", "-f") { Description = "Accepted for podman compatibility; repair removes damaged images whatever uses them" };
        var max = new Option<string?>("--max", "-m") { Description = "Accepted for podman compatibility and ignored" };
        var command = new Command("check", "Check storage consistency") { quick, repair, force, max };
        command.SetAction(parse => context.Run(() =>
        {
            var report = context.Engine(parse).Local.Check(new SystemCheckOptions { Quick = parse.GetValue(quick), Repair = parse.GetValue(repair) });
            foreach (var problem in report.Problems)
            {
                context.Out.WriteLine(problem.ToString());
            }

            foreach (string removed in report.Removed)
            {
                context.Out.WriteLine("Removed: " + removed);
            }

            if (!report.Clean)
            {
                throw new WharfException($"checking storage: {report.Problems.Count} problem(s) found; \"wharf system check --repair\" removes them and the images that need them");
            }

            return 0;
        }));
        return command;
    }
}
