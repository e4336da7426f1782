using System.CommandLine;
using System.Globalization;
using Wharf.Engine.Containers;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf wait [--condition C]... CONTAINER...</c>: prints each container's exit code once it meets a condition (default: stopped).</summary>
public static class WaitCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.ZeroOrMore };
        var latest = new Option<bool>("--latest", "-l") { Description = "Act on the latest container wharf is aware of" };
        var condition = new Option<string[]>("--condition") { Description = "Condition to wait on", AllowMultipleArgumentsPerToken = false };
        var interval = new Option<string>("--interval", "-i") { Description = "Time Interval to wait before polling for completion", DefaultValueFactory = _ => "250ms" };
        var command = new Command("wait", "Block on one or more containers") { containers, condition, interval, latest };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            string[] conditions = parse.GetValue(condition) ?? [];
            ContainerLifecycle.CheckWaitConditions(conditions);
            var every = Interval(parse.GetValue(interval) ?? "250ms");
            string[] names = parse.GetValue(containers) ?? [];
            bool isLatest = parse.GetValue(latest);
            if (isLatest == (names.Length > 0))
            {
                throw new Engine.WharfException(isLatest ? "--latest and containers cannot be used together" : $"\"{UsageErrors.Path(parse)}\" requires a name, id, or the \"--latest\" flag");
            }

            var engine = ContainerCli.Engine(context, parse);
            foreach (string n in isLatest ? [engine.Lifecycle.Latest().Id] : names)
            {
                int code = await engine.Lifecycle.WaitAsync(n, conditions, every, ct).ConfigureAwait(false);
                await context.Out.WriteLineAsync(code.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }

    /// <summary>A Go duration (250ms, 1s, 2m) or, as podman also takes, a plain number of milliseconds.</summary>
    private static TimeSpan Interval(string text)
    {
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int ms))
        {
            return TimeSpan.FromMilliseconds(Math.Max(1, ms));
        }

        foreach (var (suffix, unit) in new[] { ("ms", 1.0), ("s", 1000.0), ("m", 60000.0) })
        {
            if (text.EndsWith(suffix, StringComparison.Ordinal)
                && double.TryParse(text[..^suffix.Length], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double v) && v > 0)
            {
                return TimeSpan.FromMilliseconds(Math.Max(1, v * unit));
            }
        }

        throw new Engine.WharfException($"time: invalid duration \"{text}\"");
    }
}
