using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Cli.Output;
using Wharf.Engine.Volumes;

namespace Wharf.Cli.Volumes;

/// <summary><c>wharf volume create|ls|inspect|rm|prune</c>: named volumes with podman's output. Used by <c>run -v NAME:/path</c>.</summary>
public static class VolumeCli
{
    public static Command Group(CliContext c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return new Command("volume", "Manage volumes") { Create(c), List(c), Inspect(c), Remove(c), Prune(c) };
    }

    private static VolumeStore Store(CliContext c, ParseResult parse)
    {
        return new(c.Engine(parse));
    }

    private static Command Create(CliContext c)
    {
        var name = new Argument<string?>("NAME") { Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("create", "Create a new volume") { name };
        command.SetAction((parse, ct) => c.RunAsync(async () =>
        {
            string n = parse.GetValue(name) ?? Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
            var v = Store(c, parse).Create(n, ignoreIfExists: false);
            await c.Out.WriteLineAsync(v.Name).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }

    private static Command List(CliContext c)
    {
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print volume output in quiet mode" };
        var format = new Option<string?>("--format") { Description = "Format volume output using JSON or a Go template" };
        var noHeading = new Option<bool>("--noheading") { Description = "Do not print headers" };
        var command = new Command("ls", "List volumes") { quiet, format, noHeading };
        command.Aliases.Add("list");
        command.SetAction((parse, ct) => c.RunAsync(async () =>
        {
            var volumes = Store(c, parse).List();
            string? f = parse.GetValue(format);
            if (parse.GetValue(quiet))
            {
                await c.Out.WriteAsync(string.Concat(volumes.Select(v => v.Name + "\n"))).ConfigureAwait(false);
            }
            else if (f is "json")
            {
                await c.Out.WriteLineAsync(new JsonArray([.. volumes.Select(v => (JsonNode?)VolumeStore.Describe(v))]).ToJsonString(JsonOutput.Indented)).ConfigureAwait(false);
            }
            else if (f is not null)
            {
                var template = new GoTemplate(f);
                foreach (var v in volumes)
                {
                    var d = VolumeStore.Describe(v);
                    await c.Out.WriteLineAsync(template.Render((field, _) => d[field]?.ToString())).ConfigureAwait(false);
                }
            }
            else if (volumes.Count > 0)
            {
                string table = Table.Render([["DRIVER", "VOLUME NAME"], .. volumes.Select(v => (IReadOnlyList<string>)["local", v.Name])]);
                await c.Out.WriteAsync(parse.GetValue(noHeading) ? table[(table.IndexOf('\n', StringComparison.Ordinal) + 1)..] : table).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }

    private static Command Inspect(CliContext c)
    {
        var names = new Argument<string[]>("VOLUME") { Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all", "-a") { Description = "Inspect all volumes" };
        var format = new Option<string?>("--format", "-f") { Description = "Format volume output using JSON or a Go template" };
        var command = new Command("inspect", "Display detailed information on one or more volumes") { names, all, format };
        command.SetAction((parse, ct) => c.RunAsync(async () =>
        {
            var store = Store(c, parse);
            string[] asked = parse.GetValue(names) ?? [];
            if (parse.GetValue(all) == (asked.Length > 0))
            {
                // podman's words for both mistakes (names with --all, neither).
                throw new Engine.WharfException("provide one or more volume names or use --all");
            }

            // As podman: the volumes found are printed, then the first missing one is the error.
            var found = new JsonArray();
            string? missing = null;
            foreach (string n in parse.GetValue(all) ? store.List().Select(v => v.Name) : asked)
            {
                if (store.TryGet(n) is { } v)
                {
                    found.Add((JsonNode)VolumeStore.Describe(v));
                }
                else
                {
                    missing ??= n;
                }
            }

            if (parse.GetValue(format) is { } f && f != "json")
            {
                var template = new GoTemplate(f);
                foreach (var v in found)
                {
                    await c.Out.WriteLineAsync(template.Render(v)).ConfigureAwait(false);
                }
            }
            else
            {
                await c.Out.WriteLineAsync(found.ToJsonString(JsonOutput.Indented)).ConfigureAwait(false);
            }

            return missing is null ? 0 : throw new Engine.WharfException($"inspecting object: no such volume {missing}");
        }));
        return command;
    }

    private static Command Remove(CliContext c)
    {
        var names = new Argument<string[]>("VOLUME") { Arity = ArgumentArity.OneOrMore };
        var force = new Option<bool>("--force", "-f") { Description = "Remove a volume by force, even if it is being used by a container" };
        var command = new Command("rm", "Remove one or more volumes") { names, force };
        command.Aliases.Add("remove");
        command.SetAction((parse, ct) => c.RunAsync(async () =>
        {
            var store = Store(c, parse);
            var containers = Containers.ContainerCli.Engine(c, parse);

            // One by one, as podman: the volumes before a missing name are removed.
            foreach (string n in parse.GetValue(names) ?? [])
            {
                var users = containers.UsersOf(store.Get(n));
                if (users.Count > 0 && !parse.GetValue(force))
                {
                    throw new Engine.WharfException($"volume {n} is being used by the following container(s): {string.Join(", ", users.Select(u => u.Id))}: volume is being used", 2);
                }

                // -f: the containers using it go first, as with podman.
                foreach (var user in users)
                {
                    containers.Lifecycle.Remove(user.Id, force: true);
                }

                store.Remove(n);
                await c.Out.WriteLineAsync(n).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }

    private static Command Prune(CliContext c)
    {
        var force = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation" };
        var command = new Command("prune", "Remove all unused volumes") { force };
        command.SetAction((parse, ct) => c.RunAsync(async () =>
        {
            if (!parse.GetValue(force))
            {
                await c.Out.WriteAsync("WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:\n").ConfigureAwait(false);
                await c.Out.WriteAsync("Are you sure you want to continue? [y/N] ").ConfigureAwait(false);
                if (c.Io.In.ReadLine()?.Trim() is not ("y" or "Y"))
                {
                    return 0;
                }
            }

            var store = Store(c, parse);
            var containers = Containers.ContainerCli.Engine(c, parse);
            foreach (var v in store.List().Where(v => containers.UsersOf(v).Count == 0))
            {
                store.Prune(v.Name);
                await c.Out.WriteLineAsync(v.Name).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
