using System.CommandLine;

namespace Wharf.Cli.Containers;

/// <summary>
/// A single-valued flag that may be repeated, the last one winning, as podman's flag parser (pflag)
/// does: "--name a --name b" names the container b, where a plain option would fail the parse.
/// </summary>
internal sealed class LastWinsOption : Option<string?>
{
    public LastWinsOption(string name, params string[] aliases)
        : base(name, aliases)
    {
        Arity = ArgumentArity.OneOrMore;
        AllowMultipleArgumentsPerToken = false;
        CustomParser = r => r.Tokens.Count > 0 ? r.Tokens[^1].Value : null;
    }
}
