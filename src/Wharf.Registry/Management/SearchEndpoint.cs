using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Auth;
using Wharf.Registry.Identity;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Management;

/// <summary>
/// Docker's v1 search (<c>GET /v1/search?q=&amp;n=&amp;page=</c>) over the repositories the caller may pull.
/// docker sends its credentials here when it has some, so a docker request without them is anonymous
/// and is answered with the public repositories. podman (containers/image), and wharf like it, never
/// send credentials here: they ask without them and, on anything but 200, list /v2/_catalog with their
/// login. A 200 with public repositories would hide a logged-in user's private ones, so every other
/// client without credentials is answered 401, and its search goes through the catalog, which shows
/// each caller (anonymous too) what it may pull. With credentials (Basic or a token) this answers directly.
/// </summary>
internal static class SearchEndpoint
{
    private const int DefaultPageSize = 25;
    private const int MaxPageSize = 100;
    private const int RepositoryPage = 1000;

    public static void Map(IEndpointRouteBuilder endpoints) => endpoints.MapGet("/v1/search", Api.Handle(SearchAsync));

    private static async Task<IResult> SearchAsync(HttpContext context)
    {
        var caller = await CallerAsync(context).ConfigureAwait(false);
        if (caller is null && string.IsNullOrEmpty(context.Request.Headers.Authorization) && IsDocker(context.Request))
        {
            caller = Caller.Anonymous;
        }

        if (caller is null)
        {
            context.RequestServices.GetRequiredService<TokenRegistryAuthorizer>().WriteChallenge(context, AccessScope.Catalog);
            return Results.Json(
                new { errors = new[] { new { code = "UNAUTHORIZED", message = "authentication required" } } }, Api.Json, statusCode: StatusCodes.Status401Unauthorized);
        }

        string term = context.Request.Query["q"].ToString();
        int pageSize = Api.IntQuery(context, "n", DefaultPageSize);
        int page = Api.IntQuery(context, "page", 1);
        if (pageSize < 1 || page < 1)
        {
            throw ApiException.BadRequest("n and page must be positive");
        }

        pageSize = Math.Min(pageSize, MaxPageSize);
        var matches = await MatchesAsync(context, caller, term).ConfigureAwait(false);
        int pages = (matches.Count + pageSize - 1) / pageSize;
        var results = matches.Skip((page - 1) * pageSize).Take(pageSize)
            .Select(match => new SearchResult(match.Repository, "", 0, false, false, false));
        return Results.Json(new SearchResponse(matches.Count, term, pages, pageSize, page, [.. results]), Api.Json);
    }

    /// <summary>The docker engine names itself "docker/&lt;version&gt; go/... UpstreamClient(Docker-Client/...)".</summary>
    private static bool IsDocker(HttpRequest request) =>
        request.Headers.UserAgent.ToString().StartsWith("docker/", StringComparison.Ordinal);

    /// <summary>The caller from a Basic credential or one of our tokens; null when there is none or it is wrong.</summary>
    internal static async Task<Caller?> CallerAsync(HttpContext context)
    {
        string? authorization = context.Request.Headers.Authorization;
        if (string.IsNullOrEmpty(authorization))
        {
            return null;
        }

        var verifier = context.RequestServices.GetRequiredService<CredentialVerifier>();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var token = context.RequestServices.GetRequiredService<RegistryTokens>().Validate(authorization["Bearer ".Length..].Trim(), out _);
            return token is null ? null : await verifier.ResolveSubjectAsync(token.Subject, context.RequestAborted).ConfigureAwait(false);
        }

        return CredentialVerifier.TryParseBasic(authorization, out string username, out string password)
            ? await verifier.VerifyAsync(username, password, context.RequestAborted).ConfigureAwait(false)
            : null;
    }

    /// <summary>Repository names containing the term (case-insensitive, as docker's index searches), in the projects the caller may pull from.</summary>
    internal static async Task<List<(Project Project, string Repository)>> MatchesAsync(HttpContext context, Caller caller, string term)
    {
        var evaluator = context.RequestServices.GetRequiredService<AccessEvaluator>();
        var repositories = context.RequestServices.GetRequiredService<IProjectRepositories>();
        var rules = context.RequestServices.GetRequiredService<ProjectRules>();
        var matches = new List<(Project Project, string Repository)>();
        for (int page = 1; ; page++)
        {
            var (list, total) = await rules.ListAsync(caller, null, null, null, page, MaxPageSize, context.RequestAborted).ConfigureAwait(false);
            foreach (var project in list)
            {
                var access = await evaluator.EvaluateAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
                if (!access.Actions.HasFlag(RepositoryActions.Pull))
                {
                    continue;
                }

                string? last = null;
                while (true)
                {
                    var names = await repositories.ListProjectRepositoriesAsync(project.Name, last, RepositoryPage, context.RequestAborted).ConfigureAwait(false);
                    matches.AddRange(names.Where(n => n.Contains(term, StringComparison.OrdinalIgnoreCase)).Select(n => (project, n)));
                    if (names.Count < RepositoryPage)
                    {
                        break;
                    }

                    last = names[^1];
                }
            }

            if ((long)page * MaxPageSize >= total)
            {
                break;
            }
        }

        matches.Sort((a, b) => string.CompareOrdinal(a.Repository, b.Repository));
        return matches;
    }

    private sealed record SearchResult(string Name, string Description, int StarCount, bool IsOfficial, bool IsAutomated, bool IsTrusted);

    private sealed record SearchResponse(int NumResults, string Query, int NumPages, int PageSize, int Page, SearchResult[] Results);
}
