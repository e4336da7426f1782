using System.Text;
using System.Text.Json;
using Wharf.Engine.Containers;
using Wharf.Oci;

namespace Wharf.Engine.Images;

/// <summary>
/// podman commit's <c>-c</c> instructions (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER,
/// VOLUME, WORKDIR) applied to an image's run config.
/// </summary>
internal static class CommitChanges
{
    /// <summary>A Dockerfile-style instruction given with -c; ENV, LABEL, EXPOSE and VOLUME edit as build does.</summary>
    public static ContainerConfig Apply(ContainerConfig run, string change)
    {
        string trimmed = change.Trim();
        int space = trimmed.IndexOfAny([' ', '=']);
        string op = (space < 0 ? trimmed : trimmed[..space]).ToUpperInvariant();
        string arg = space < 0 ? string.Empty : trimmed[(space + 1)..].Trim();
        List<string> JsonOrShell() => arg.StartsWith('[')
            ? JsonSerializer.Deserialize(arg, ContainerCliJson.Default.ListString) ?? []
            : ["/bin/sh", "-c", arg];
        List<string> JsonOrWords() => arg.StartsWith('[')
            ? JsonSerializer.Deserialize(arg, ContainerCliJson.Default.ListString) ?? []
            : [.. arg.Split(' ', StringSplitOptions.RemoveEmptyEntries)];
        try
        {
            return op switch
            {
                "CMD" => run with { Cmd = JsonOrShell() },
                "ENTRYPOINT" => run with { Entrypoint = JsonOrShell() },
                "ENV" => run.WithEnv(KeyValues(arg)),
                "LABEL" => run.WithLabels(KeyValues(arg)),
                "EXPOSE" => run.WithExposedPorts(arg.Split(' ', StringSplitOptions.RemoveEmptyEntries)),
                "VOLUME" => run.WithVolumes(JsonOrWords()),
                "USER" => run with { User = arg },
                "WORKDIR" => run with { WorkingDir = arg },
                "STOPSIGNAL" => run with { StopSignal = arg },
                _ => throw new WharfException($"processing change \"{change}\": unknown change instruction \"{op}\""),
            };
        }
        catch (JsonException e)
        {
            throw new WharfException($"processing change \"{change}\": {e.Message}", e);
        }
    }

    /// <summary><c>K=V K2="v 2"</c>, or the legacy <c>K V</c>.</summary>
    private static List<(string Key, string Value)> KeyValues(string arg)
    {
        var result = new List<(string, string)>();
        int firstEq = arg.IndexOf('=', StringComparison.Ordinal), firstSpace = arg.IndexOf(' ', StringComparison.Ordinal);
        if (firstEq < 0 || (firstSpace >= 0 && firstSpace < firstEq))
        {
            if (firstSpace < 0)
            {
                throw new WharfException($"\"{arg}\": expected KEY=VALUE");
            }

            result.Add((arg[..firstSpace], arg[(firstSpace + 1)..].Trim()));
            return result;
        }

        int i = 0;
        while (i < arg.Length)
        {
            while (i < arg.Length && arg[i] == ' ')
            {
                i++;
            }

            int eq = arg.IndexOf('=', i);
            if (eq < 0)
            {
                break;
            }

            string key = arg[i..eq];
            i = eq + 1;
            var value = new StringBuilder();
            char? quote = null;
            while (i < arg.Length && (quote is not null || arg[i] != ' '))
            {
                char ch = arg[i++];
                if (quote is null && ch is '"' or '\'')
                {
                    quote = ch;
                }
                else if (quote == ch)
                {
                    quote = null;
                }
                else
                {
                    value.Append(ch);
                }
            }

            result.Add((key, value.ToString()));
        }

        return result;
    }
}
