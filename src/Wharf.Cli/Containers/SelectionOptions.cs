using System.CommandLine;
using Wharf.Engine.Containers;

namespace Wharf.Cli.Containers;

/// <summary>podman's way of choosing containers, shared by rm, start, stop and kill: names, --all, --latest, --filter, --ignore.</summary>
internal sealed class SelectionOptions
{
    private readonly Argument<string[]> _names = new("CONTAINER") { Arity = ArgumentArity.ZeroOrMore };
    private readonly Option<bool> _all;
    private readonly Option<bool> _latest = new("--latest", "-l") { Description = "Act on the latest container wharf is aware of" };
    private readonly Option<string[]>? _filter;
    private readonly Option<bool>? _ignore;

    /// <param name="filterAliases">podman's spelling: <c>-f</c> is --filter for start and stop, --force for rm; kill has no filter.</param>
    public SelectionOptions(Command command, string allDescription, string[]? filterAliases, bool ignore, bool allShortFlag = true)
    {
        _all = allShortFlag ? new("--all", "-a") { Description = allDescription } : new("--all") { Description = allDescription };
        command.Add(_names);
        command.Add(_all);
        command.Add(_latest);
        if (filterAliases is not null)
        {
            _filter = new Option<string[]>("--filter", filterAliases) { Description = "Filter output based on conditions given" };
            command.Add(_filter);
        }

        if (ignore)
        {
            _ignore = new Option<bool>("--ignore", "-i") { Description = "Ignore errors when a specified container is missing" };
            command.Add(_ignore);
        }
    }

    public ContainerSelection Read(ParseResult parse) => new()
    {
        Names = parse.GetValue(_names) ?? [],
        All = parse.GetValue(_all),
        Latest = parse.GetValue(_latest),
        Filters = _filter is null ? [] : parse.GetValue(_filter) ?? [],
        Ignore = _ignore is not null && parse.GetValue(_ignore),
    };
}
