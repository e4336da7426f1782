using Wharf.Client;

namespace Wharf.Engine;

public sealed record SearchOptions : RegistryAccess
{
    public required string Term { get; init; }

    public int Limit { get; init; } = 25;

    public bool ListTags { get; init; }
}

public sealed record SearchResult(string Index, string Name, string Description, int Stars, bool Official, bool Automated);

public sealed record SearchReport(IReadOnlyList<SearchResult> Results, IReadOnlyList<(string Name, IReadOnlyList<string> Tags)> Tags, IReadOnlyList<string> Warnings);

public sealed partial class RegistryImages
{
    /// <summary>
    /// podman search: <c>REGISTRY/TERM</c> searches that registry, a bare term every
    /// unqualified-search registry; <c>/v1/search</c> first, else <c>/v2/_catalog</c> filtered by
    /// substring (case-sensitive). <c>--list-tags</c> lists a repository's tags instead.
    /// </summary>
    public async Task<SearchReport> SearchAsync(SearchOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        string term = ImageNames.StripTransport(options.Term);
        if (options.ListTags)
        {
            var reference = ImageNames.Parse(term);
            if (reference.Domain is null || reference.Tag is not null || reference.Digest is not null)
            {
                if (reference.Tag is not null || reference.Digest is not null)
                {
                    throw new WharfException($"1 error occurred:\n\t* reference \"{term}\" must not have a tag or digest for --list-tags");
                }

                reference = reference.Normalize();
            }

            using var client = CreateClient(reference.Domain!, reference.Name, options);
            try
            {
                var tags = await client.Repository(reference.Path).ListTagsAsync(cancellationToken).ConfigureAwait(false);
                return new SearchReport([], [(reference.Name, tags.Take(options.Limit).ToList())], []);
            }
            catch (Exception e) when (e is RegistryException or HttpRequestException)
            {
                throw new WharfException($"1 error occurred:\n\t* getting repository tags: {e.Message}", e);
            }
        }

        int slash = term.IndexOf('/', StringComparison.Ordinal);
        List<string> registries;
        string query;
        if (slash > 0 && Oci.Reference.LooksLikeDomain(term[..slash]))
        {
            registries = [term[..slash]];
            query = term[(slash + 1)..];
        }
        else
        {
            registries = [.. Registries.UnqualifiedSearchRegistries];
            query = term;
        }

        var results = new List<SearchResult>();
        var errors = new List<string>();
        var warnings = new List<string>();
        foreach (string registry in registries)
        {
            try
            {
                results.AddRange(await SearchRegistryAsync(registry, query, options, cancellationToken).ConfigureAwait(false));
            }
            catch (Exception e) when (e is RegistryException or HttpRequestException)
            {
                errors.Add($"couldn't search registry \"{registry}\": {e.Message}");
            }
        }

        if (errors.Count > 0 && (registries.Count == 1 || results.Count == 0))
        {
            throw new WharfException($"{errors.Count} error{(errors.Count == 1 ? string.Empty : "s")} occurred:\n" + string.Join('\n', errors.Select(e => "\t* " + e)));
        }

        warnings.AddRange(errors);
        return new SearchReport(results, [], warnings);
    }

    private async Task<List<SearchResult>> SearchRegistryAsync(string registry, string query, SearchOptions options, CancellationToken ct)
    {
        using var client = CreateClient(registry, registry, options);
        await client.PingAsync(ct).ConfigureAwait(false);
        if (query.Length > 0)
        {
            var v1 = await client.SearchV1Async(query, options.Limit, ct).ConfigureAwait(false);
            if (v1 is not null)
            {
                return [.. v1.Take(options.Limit).Select(r => new SearchResult(
                    registry, registry + "/" + (registry == "docker.io" && !r.Name.Contains('/', StringComparison.Ordinal) ? "library/" + r.Name : r.Name),
                    r.Description, r.StarCount, r.IsOfficial, r.IsAutomated))];
            }
        }

        var names = await client.CatalogAsync(n => n.Contains(query, StringComparison.Ordinal), options.Limit, ct).ConfigureAwait(false);
        return [.. names.Select(n => new SearchResult(registry, registry + "/" + n, string.Empty, 0, false, false))];
    }
}
