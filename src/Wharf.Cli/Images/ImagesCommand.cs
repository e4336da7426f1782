using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Cli.Output;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary><c>wharf images</c>: podman's table, one row per name, newest first.</summary>
public static class ImagesCommand
{
    public static Command Create(CliContext context, string name, params string[] aliases)
    {
        ArgumentNullException.ThrowIfNull(context);
        var image = new Argument<string?>("IMAGE") { Arity = ArgumentArity.ZeroOrOne };
        var all = new Option<bool>("--all", "-a") { Description = "Show all images (default hides intermediate images)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Display only image IDs" };
        var digests = new Option<bool>("--digests") { Description = "Show digests" };
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Do not truncate output" };
        var noHeading = new Option<bool>("--noheading", "-n") { Description = "Do not print column headings" };
        var format = new Option<string?>("--format") { Description = "Change the output format to JSON or a Go template" };
        var filter = new Option<string[]>("--filter", "-f") { Description = "Filter output based on conditions provided", AllowMultipleArgumentsPerToken = false };
        var sort = new Option<string?>("--sort") { Description = "Sort by created, id, repository, size or tag" };
        var store = new Option<string?>("--store") { Description = "List the images published in this shared image store (see image publish)" };
        var command = new Command(name, "List images in local storage") { image, all, quiet, digests, noTrunc, noHeading, format, filter, sort, store };
        foreach (string alias in aliases)
        {
            command.Aliases.Add(alias);
        }

        command.SetAction(parse => context.Run(() =>
        {
            var engine = context.Engine(parse);
            var filters = (parse.GetValue(filter) ?? []).ToList();
            if (parse.GetValue(image) is { } reference)
            {
                filters.Add("reference=" + reference);
            }

            string? sortBy = parse.GetValue(sort);
            if (sortBy is not (null or "created" or "id" or "repository" or "size" or "tag"))
            {
                throw new WharfException($"\"{sortBy}\" is not a valid field for sorting. Choose from: created, id, repository, size, tag");
            }

            var report = engine.Local.ListImages(new ListImagesOptions { All = parse.GetValue(all), Filters = filters, Store = parse.GetValue(store) });

            // podman: repository and tag ascending; created and size newest and largest first.
            report = new ListImagesReport(sortBy switch
            {
                "id" => [.. report.Rows.OrderBy(r => r.Id, StringComparer.Ordinal)],
                "repository" => [.. report.Rows.OrderBy(r => r.Repository, StringComparer.Ordinal)],
                "tag" => [.. report.Rows.OrderBy(r => r.Tag, StringComparer.Ordinal)],
                "size" => [.. report.Rows.OrderByDescending(r => r.Image.Size)],
                _ => report.Rows,
            });
            var now = DateTimeOffset.UtcNow;
            bool trunc = !parse.GetValue(noTrunc);
            string Id(ImageSummary r) => trunc ? r.Image.ShortId : "sha256:" + r.Id;

            if (parse.GetValue(quiet))
            {
                foreach (string id in report.Rows.Select(Id).Distinct())
                {
                    context.Out.WriteLine(id);
                }

                return 0;
            }

            string? f = parse.GetValue(format);
            if (f is "json")
            {
                context.Out.WriteLine(Json(engine, report, now));
                return 0;
            }

            if (f is not null)
            {
                var template = new GoTemplate(f);
                var lines = new List<IReadOnlyList<string>>();
                if (template.IsTable && !parse.GetValue(noHeading))
                {
                    lines.Add(template.Header(h => h switch { "ID" => "IMAGE ID", "CreatedSince" => "CREATED", "CreatedAt" => "CREATED AT", _ => h.ToUpperInvariant() }).Split('\t'));
                }

                foreach (var row in report.Rows)
                {
                    lines.Add(template.Render((field, _) => Field(row, field, Id(row), now)).Split('\t'));
                }

                context.Out.Write(template.IsTable || f.Contains('\t', StringComparison.Ordinal) || f.Contains("\\t", StringComparison.Ordinal)
                    ? Table.Render(lines)
                    : string.Concat(lines.Select(l => string.Join('\t', l) + "\n")));
                return 0;
            }

            bool showDigests = parse.GetValue(digests);
            var table = new List<IReadOnlyList<string>>();
            if (!parse.GetValue(noHeading))
            {
                table.Add(showDigests
                    ? ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"]
                    : ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
            }

            foreach (var row in report.Rows)
            {
                string created = Units.HumanDuration(now - row.Image.Created) + " ago";
                string size = Units.ImageSize(row.Image.Size);
                table.Add(showDigests
                    ? [row.Repository, row.Tag, row.Image.Digest, Id(row), created, size]
                    : [row.Repository, row.Tag, Id(row), created, size]);
            }

            context.Out.Write(Table.Render(table));
            return 0;
        }));
        return command;
    }

    private static string? Field(ImageSummary row, string field, string id, DateTimeOffset now) => field switch
    {
        "ID" or "Id" => id,
        "Repository" => row.Repository,
        "Tag" => row.Tag,
        "Digest" => row.Image.Digest,
        "CreatedSince" => Units.HumanDuration(now - row.Image.Created) + " ago",
        "CreatedAt" => row.Image.Created.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture),
        "Created" => row.Image.Created.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
        "Size" => Units.ImageSize(row.Image.Size),
        "VirtualSize" => Units.ImageSize(row.Image.Size),
        "Names" => "[" + string.Join(' ', row.Image.Names) + "]",
        "Containers" => "0",
        "ReadOnly" => row.Image.ReadOnly ? "true" : "false",
        "Dangling" => (row.Image.Names.Count == 0).ToString().ToLowerInvariant(),
        _ => null,
    };

    /// <summary>One object per image (not per name), with podman's keys.</summary>
    private static string Json(ImageEngine engine, ListImagesReport report, DateTimeOffset now)
    {
        var array = new JsonArray();
        foreach (var image in report.Rows.Select(r => r.Image).DistinctBy(i => i.Id))
        {
            var summary = report.Rows.First(r => r.Id == image.Id);
            var entry = new JsonObject
            {
                ["Id"] = image.Id,
                ["ParentId"] = string.Empty,
                ["RepoTags"] = null,
                ["RepoDigests"] = new JsonArray([.. summary.RepoDigests.Select(d => (JsonNode?)d)]),
                ["Size"] = image.Size,
                ["SharedSize"] = 0,
                ["VirtualSize"] = image.Size,
                ["Labels"] = engine.Local.Labels(image),
                ["Containers"] = 0,
                ["Names"] = image.Names.Count == 0 ? null : new JsonArray([.. image.Names.Select(n => (JsonNode?)n)]),
                ["Digest"] = image.Digest,
                ["History"] = new JsonArray([.. image.Names.Select(n => (JsonNode?)n)]),
                ["Created"] = image.Created.ToUnixTimeSeconds(),
                ["CreatedAt"] = image.Created.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            };
            if (image.ReadOnly)
            {
                // podman writes the key only for an image of a read-only store, after Containers.
                entry.Insert(entry.IndexOf("Containers") + 1, "ReadOnly", true);
            }

            array.Add((JsonNode)entry);
        }

        _ = now;
        return array.ToJsonString(JsonOutput.Indented);
    }
}
