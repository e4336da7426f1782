using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Audit;
using Wharf.Registry.Auth;
using Wharf.Registry.Projects;
using Wharf.Registry.Data;

namespace Wharf.Registry.Management;

/// <summary>
/// Harbor's audit logs: <c>GET /audit-logs</c> (system admins see everything, members the logs of their
/// projects, limited guests none) and <c>GET /projects/{p}/logs</c>, newest first, filtered with
/// Harbor's <c>q</c>: <c>k=v</c> exact, <c>k=~v</c> contains, <c>k=[a~b]</c> range (op_time),
/// <c>k={a b}</c> any of, clauses joined by commas.
/// </summary>
internal static class AuditEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/audit-logs", Api.Handle(ListAuditLogsAsync));
        api.MapGet("/projects/{project_name_or_id}/logs", Api.Handle(ListProjectLogsAsync));
    }

    private static async Task<IResult> ListAuditLogsAsync(HttpContext context)
    {
        var caller = await Api.UserAsync(context).ConfigureAwait(false);
        return await AuditPageAsync(context, project: null, visibleTo: caller.IsSysAdmin ? null : caller.User!.Id).ConfigureAwait(false);
    }

    private static async Task<IResult> ListProjectLogsAsync(HttpContext context)
    {
        var caller = await Api.UserAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        var role = await context.RequestServices.GetRequiredService<AccessEvaluator>().RoleAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        if (role is null or ProjectRole.LimitedGuest)
        {
            throw ApiException.Forbidden($"only members of {project.Name} may read its logs");
        }

        return await AuditPageAsync(context, project.Name, visibleTo: null).ConfigureAwait(false);
    }

    private static async Task<IResult> AuditPageAsync(HttpContext context, string? project, long? visibleTo)
    {
        var (page, pageSize) = Api.Paging(context);
        var filters = ParseAuditQuery(context.Request.Query["q"]);

        // Read what was recorded up to now, including this caller's own last requests.
        await context.RequestServices.GetRequiredService<IAuditLog>().FlushAsync(context.RequestAborted).ConfigureAwait(false);
        var (entries, total) = await context.RequestServices.GetRequiredService<IAuditLogStore>()
            .QueryAsync(new AuditQuery(filters, project, visibleTo, page, pageSize), context.RequestAborted).ConfigureAwait(false);
        Api.WritePaging(context, total, page, pageSize);
        return Results.Json(entries.Select(e => new AuditLogResponse(e.Id, e.Username, e.Resource, e.ResourceType, e.Operation, Api.Time(e.OpTime), e.Success)), Api.Json);
    }

    internal static List<AuditFilter> ParseAuditQuery(string? q)
    {
        var filters = new List<AuditFilter>();
        foreach (string clause in (q ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = clause.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw ApiException.BadRequest($"q: \"{clause}\" is not key=value");
            }

            string key = clause[..eq].Trim();
            string value = clause[(eq + 1)..].Trim();
            if (!SqliteAuditLogStore.IsFilterable(key))
            {
                throw ApiException.BadRequest($"q: cannot filter on {key} (username, operation, resource, resource_type, project, op_time)");
            }

            AuditFilter filter;
            if (value.StartsWith('~'))
            {
                filter = new AuditFilter(key, AuditMatch.Fuzzy, [value[1..]]);
            }
            else if (value.StartsWith('[') && value.EndsWith(']'))
            {
                string[] ends = value[1..^1].Split('~');
                if (ends.Length != 2)
                {
                    throw ApiException.BadRequest($"q: a range is [from~to], got {value}");
                }

                filter = new AuditFilter(key, AuditMatch.Range, [ends[0].Trim(), ends[1].Trim()]);
            }
            else if (value.StartsWith('{') && value.EndsWith('}'))
            {
                filter = new AuditFilter(key, AuditMatch.AnyOf, value[1..^1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
                if (filter.Values.Count == 0)
                {
                    throw ApiException.BadRequest($"q: {key}={{}} lists nothing");
                }
            }
            else
            {
                filter = new AuditFilter(key, AuditMatch.Exact, [value]);
            }

            if (key == "op_time" && filter.Values.Any(v => v.Length > 0 && !SqliteAuditLogStore.TryParseTime(v, out _)))
            {
                throw ApiException.BadRequest("q: op_time takes times like 2024-01-31 23:59:59");
            }

            if (key != "op_time" && filter.Match == AuditMatch.Range)
            {
                throw ApiException.BadRequest("q: only op_time takes a range");
            }

            filters.Add(filter);
        }

        return filters;
    }

    private sealed record AuditLogResponse(long Id, string Username, string Resource, string ResourceType, string Operation, string OpTime, bool OperationResult);
}
