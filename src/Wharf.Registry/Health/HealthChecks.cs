using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Data;

namespace Wharf.Registry.Health;

/// <summary>
/// What a load balancer asks, unauthenticated and cheap: <c>/readyz</c> (may this instance take
/// requests: the database answers, the data directory takes a file, not draining) and Harbor's
/// <c>/api/v2.0/ping</c> ("Pong": the process answers). <c>/healthz</c> and Harbor's <c>/api/v2.0/health</c>
/// are mapped with the registry and the management API; the latter reports the storage check below too.
/// </summary>
public static class HealthChecks
{
    public static IEndpointRouteBuilder MapWharfHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/v2.0/ping", () => Results.Text("Pong", "text/plain"));
        endpoints.MapGet("/readyz", async context =>
        {
            var drain = context.RequestServices.GetRequiredService<ShutdownDrain>();
            string? problem = drain.IsDraining ? "draining: shutting down"
                : await DatabaseProblemAsync(context).ConfigureAwait(false)
                  ?? StorageProblem(context.RequestServices.GetRequiredService<RegistryOptions>().DataDirectory);
            context.Response.StatusCode = problem is null ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
            context.Response.ContentType = "text/plain";
            context.Response.Headers.CacheControl = "no-store";
            await context.Response.WriteAsync(problem is null ? "ready\n" : $"not ready: {problem}\n", context.RequestAborted).ConfigureAwait(false);
        });
        return endpoints;
    }

    /// <summary>Null when the database answers a query; else why not.</summary>
    public static async Task<string?> DatabaseProblemAsync(HttpContext context)
    {
        try
        {
            var db = context.RequestServices.GetRequiredService<RegistryDatabase>();
            await using var connection = await db.OpenAsync(context.RequestAborted).ConfigureAwait(false);
            _ = await connection.ScalarAsync<long>("SELECT 1;", context.RequestAborted).ConfigureAwait(false);
            return null;
        }
        catch (System.Data.Common.DbException e)
        {
            return $"database: {e.Message}";
        }
    }

    /// <summary>Null when a file can be made (and removed) in the data directory: a full or read-only disk, a lost mount, say otherwise.</summary>
    public static string? StorageProblem(string dataDirectory)
    {
        try
        {
            string probe = Path.Combine(dataDirectory, "uploads", $".ready-{Environment.ProcessId}-{Guid.NewGuid():N}");
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }

            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"storage: {e.Message}";
        }
    }
}
