using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Cli.Output;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary><c>wharf search TERM</c>: NAME/DESCRIPTION table; nothing at all when nothing matched.</summary>
public static class SearchCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var term = new Argument<string>("TERM");
        var limit = new Option<int?>("--limit") { Description = "Limit the number of results" };
        var listTags = new Option<bool>("--list-tags") { Description = "List the tags of the input registry" };
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Do not truncate the output" };
        var format = new Option<string?>("--format") { Description = "Change the output format to JSON or a Go template" };
        var tls = CliContext.TlsVerifyOption();
        var certDir = CliContext.CertDirOption();
        var authFile = CliContext.AuthFileOption();
        var creds = CliContext.CredsOption();
        var command = new Command("search", "Search a registry for an image") { term, limit, listTags, noTrunc, format, tls, certDir, authFile, creds };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var report = await context.Engine(parse).Registry.SearchAsync(new SearchOptions
            {
                Term = parse.GetRequiredValue(term),
                Limit = parse.GetValue(limit) ?? 25,
                ListTags = parse.GetValue(listTags),
                TlsVerify = parse.GetValue(tls),
                CertDir = parse.GetValue(certDir),
                AuthFile = parse.GetValue(authFile),
                Credentials = parse.GetValue(creds),
            }, ct).ConfigureAwait(false);
            foreach (string w in report.Warnings)
            {
                await context.Err.WriteLineAsync($"time=\"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ}\" level=error msg=\"{w}\"").ConfigureAwait(false);
            }

            string? f = parse.GetValue(format);
            if (parse.GetValue(listTags))
            {
                if (f is "json")
                {
                    var arr = new JsonArray([.. report.Tags.Select(t => (JsonNode?)new JsonObject
                    {
                        ["Name"] = t.Name,
                        ["Tags"] = new JsonArray([.. t.Tags.Select(x => (JsonNode?)x)]),
                    })]);
                    await context.Out.WriteLineAsync(arr.ToJsonString(JsonOutput.Indented)).ConfigureAwait(false);
                    return 0;
                }

                var rows = new List<IReadOnlyList<string>> { new[] { "NAME", "TAG" } };
                rows.AddRange(report.Tags.SelectMany(t => t.Tags.Select(tag => (IReadOnlyList<string>)[t.Name, tag])));
                if (rows.Count > 1)
                {
                    await context.Out.WriteAsync(Table.Render(rows)).ConfigureAwait(false);
                }

                return 0;
            }

            if (f is "json")
            {
                var arr = new JsonArray([.. report.Results.Select(r => (JsonNode?)new JsonObject
                {
                    ["Index"] = r.Index,
                    ["Name"] = r.Name,
                    ["Description"] = r.Description,
                    ["Stars"] = r.Stars,
                    ["Official"] = r.Official ? "[OK]" : string.Empty,
                    ["Automated"] = r.Automated ? "[OK]" : string.Empty,
                    ["Tag"] = string.Empty,
                })]);
                await context.Out.WriteLineAsync(arr.ToJsonString(JsonOutput.Indented)).ConfigureAwait(false);
                return 0;
            }

            if (report.Results.Count == 0)
            {
                return 0;
            }

            bool trunc = !parse.GetValue(noTrunc);
            string Describe(SearchResult r)
            {
                string d = r.Description.Replace('\n', ' ');
                return trunc && d.Length > 44 ? d[..44] + "..." : d;
            }

            if (f is not null)
            {
                var template = new GoTemplate(f);
                foreach (var r in report.Results)
                {
                    await context.Out.WriteLineAsync(template.Render((field, _) => field switch
                    {
                        "Index" => r.Index,
                        "Name" => r.Name,
                        "Description" => Describe(r),
                        "Stars" => r.Stars.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        "Official" => r.Official ? "[OK]" : string.Empty,
                        "Automated" => r.Automated ? "[OK]" : string.Empty,
                        _ => null,
                    })).ConfigureAwait(false);
                }

                return 0;
            }

            var table = new List<IReadOnlyList<string>> { new[] { "NAME", "DESCRIPTION" } };
            table.AddRange(report.Results.Select(r => (IReadOnlyList<string>)[r.Name, Describe(r)]));
            await context.Out.WriteAsync(Table.Render(table)).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}
