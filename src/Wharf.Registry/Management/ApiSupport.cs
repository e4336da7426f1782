using System.Globalization;
using System.Text.Json.Serialization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Auth;
using Wharf.Registry.Identity;
using Wharf.Registry.Projects;
using Wharf.Registry.Data;

namespace Wharf.Registry.Management;

/// <summary>Harbor's error body: <c>{"errors":[{"code","message"}]}</c>, with Harbor's code words.</summary>
public sealed class ApiException(int status, string code, string message) : Exception(message)
{
    public int Status { get; } = status;

    public string Code { get; } = code;

    public static ApiException BadRequest(string message) => new(StatusCodes.Status400BadRequest, "BAD_REQUEST", message);

    public static ApiException Unauthorized() => new(StatusCodes.Status401Unauthorized, "UNAUTHORIZED", "unauthorized");

    public static ApiException Forbidden(string message = "forbidden") => new(StatusCodes.Status403Forbidden, "FORBIDDEN", message);

    public static ApiException NotFound(string message) => new(StatusCodes.Status404NotFound, "NOT_FOUND", message);

    public static ApiException Conflict(string message) => new(StatusCodes.Status409Conflict, "CONFLICT", message);

    public static ApiException Precondition(string message) => new(StatusCodes.Status412PreconditionFailed, "PRECONDITION", message);
}

/// <summary>What every management handler needs: the caller (Basic auth), JSON in Harbor's snake_case, paging.</summary>
internal static class Api
{
    public const string Prefix = "/api/v2.0";

    /// <summary>
    /// Harbor's snake_case. The web defaults would read <c>"role_id": "1"</c> as the number 1; Harbor's
    /// server (go-swagger) refuses a string where the schema says integer, so numbers are strict here,
    /// and so is every request type through <see cref="BodyAsync{T}"/>.
    /// </summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.Strict,
    };

    /// <summary>Runs a handler, turning <see cref="ApiException"/> into Harbor's error body.</summary>
    public static RequestDelegate Handle(Func<HttpContext, Task<IResult>> handler) => async context =>
    {
        IResult result;
        try
        {
            result = await handler(context).ConfigureAwait(false);
        }
        catch (ApiException e)
        {
            if (e.Status == StatusCodes.Status401Unauthorized)
            {
                context.Response.Headers.WWWAuthenticate = "Basic realm=\"wharf\"";
            }

            result = Results.Json(new { errors = new[] { new { code = e.Code, message = e.Message } } }, Json, statusCode: e.Status);
        }

        await result.ExecuteAsync(context).ConfigureAwait(false);
    };

    /// <summary>The caller from Basic credentials; anonymous when there are none; 401 when they are wrong.</summary>
    public static async Task<Caller> CallerAsync(HttpContext context)
    {
        string? authorization = context.Request.Headers.Authorization;
        if (string.IsNullOrEmpty(authorization))
        {
            return Caller.Anonymous;
        }

        if (!CredentialVerifier.TryParseBasic(authorization, out string username, out string password))
        {
            throw ApiException.Unauthorized();
        }

        return await context.RequestServices.GetRequiredService<CredentialVerifier>().VerifyAsync(username, password, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.Unauthorized();
    }

    public static async Task<Caller> UserAsync(HttpContext context)
    {
        var caller = await CallerAsync(context).ConfigureAwait(false);
        return caller.Kind switch
        {
            CallerKind.User => caller,
            CallerKind.Anonymous => throw ApiException.Unauthorized(),
            _ => throw ApiException.Forbidden("robot accounts cannot use this API"),
        };
    }

    public static async Task<Caller> SysAdminAsync(HttpContext context)
    {
        var caller = await UserAsync(context).ConfigureAwait(false);
        return caller.IsSysAdmin ? caller : throw ApiException.Forbidden("only system admins may do this");
    }

    /// <summary>Management requests are small; anything bigger is a mistake or an attack.</summary>
    public const long MaxBodyBytes = 1024 * 1024;

    public static async Task<T> BodyAsync<T>(HttpContext context)
        where T : class
    {
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            throw new ApiException(StatusCodes.Status413PayloadTooLarge, "PAYLOAD_TOO_LARGE", $"request body is larger than {MaxBodyBytes} bytes");
        }

        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBodyBytes;
        }

        try
        {
            return await JsonSerializer.DeserializeAsync<T>(context.Request.Body, Json, context.RequestAborted).ConfigureAwait(false)
                ?? throw ApiException.BadRequest("request body is empty");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"invalid JSON body: {e.Message}");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ApiException(StatusCodes.Status413PayloadTooLarge, "PAYLOAD_TOO_LARGE", $"request body is larger than {MaxBodyBytes} bytes");
        }
    }

    public static (int Page, int PageSize) Paging(HttpContext context)
    {
        int page = IntQuery(context, "page", 1);
        int pageSize = IntQuery(context, "page_size", 10);
        if (page < 1 || pageSize < 1 || pageSize > 100)
        {
            throw ApiException.BadRequest("page must be at least 1 and page_size between 1 and 100");
        }

        return (page, pageSize);
    }

    /// <summary>Harbor's paging headers: X-Total-Count and a Link to the next/previous page.</summary>
    public static void WritePaging(HttpContext context, long total, int page, int pageSize)
    {
        context.Response.Headers["X-Total-Count"] = total.ToString(CultureInfo.InvariantCulture);
        var links = new List<string>();
        string path = context.Request.PathBase + context.Request.Path;

        // Harbor's links keep the other query parameters (q, name, ...) so a client can follow them as they are.
        string rest = string.Concat(context.Request.Query
            .Where(q => q.Key is not ("page" or "page_size"))
            .SelectMany(q => q.Value.Select(v => "&" + Uri.EscapeDataString(q.Key) + "=" + Uri.EscapeDataString(v ?? ""))));
        if (page > 1)
        {
            links.Add($"<{path}?page={page - 1}&page_size={pageSize}{rest}>; rel=\"prev\"");
        }

        if ((long)page * pageSize < total && page < int.MaxValue)
        {
            links.Add($"<{path}?page={page + 1}&page_size={pageSize}{rest}>; rel=\"next\"");
        }

        if (links.Count > 0)
        {
            context.Response.Headers.Link = string.Join(" , ", links);
        }
    }

    /// <summary>Pages a list already in memory (members, robots) and writes the paging headers.</summary>
    public static IEnumerable<T> Page<T>(HttpContext context, IReadOnlyCollection<T> all)
    {
        var (page, pageSize) = Paging(context);
        WritePaging(context, all.Count, page, pageSize);
        // In long: (page - 1) * pageSize overflows int near int.MaxValue, and a negative skip would show page 1.
        long skip = (long)(page - 1) * pageSize;
        return skip >= all.Count ? [] : all.Skip((int)skip).Take(pageSize);
    }

    public static long Id(HttpContext context, string name)
    {
        string? raw = context.Request.RouteValues[name] as string;
        return long.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out long id) && id > 0
            ? id
            : throw ApiException.BadRequest($"{name} must be a positive integer");
    }

    public static int IntQuery(HttpContext context, string name, int fallback)
    {
        string? raw = context.Request.Query[name];
        if (string.IsNullOrEmpty(raw))
        {
            return fallback;
        }

        return int.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw ApiException.BadRequest($"{name} must be an integer");
    }

    /// <summary>
    /// The project named by <c>{project_name_or_id}</c>: a number is an id unless the request says
    /// <c>X-Is-Resource-Name: true</c>, as in Harbor. Invisible projects are reported missing.
    /// </summary>
    public static async Task<Project> ProjectAsync(HttpContext context, Caller caller)
    {
        var projects = context.RequestServices.GetRequiredService<IProjectStore>();
        string key = context.Request.RouteValues["project_name_or_id"] as string ?? "";
        bool byName = string.Equals(context.Request.Headers["X-Is-Resource-Name"], "true", StringComparison.OrdinalIgnoreCase);
        var project = !byName && long.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out long id)
            ? await projects.FindByIdAsync(id, context.RequestAborted).ConfigureAwait(false)
            : await projects.FindByNameAsync(key, context.RequestAborted).ConfigureAwait(false);
        if (project is null || !await CanSeeAsync(context, caller, project).ConfigureAwait(false))
        {
            throw ApiException.NotFound($"project {key} not found");
        }

        return project;
    }

    public static async Task<bool> CanSeeAsync(HttpContext context, Caller caller, Project project)
    {
        if (project.Public || caller.IsSysAdmin)
        {
            return true;
        }

        var evaluator = context.RequestServices.GetRequiredService<AccessEvaluator>();
        var access = await evaluator.EvaluateAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        return access.Actions.HasFlag(RepositoryActions.Pull);
    }

    /// <summary>Project admins (and system admins) manage members, robots and settings: <see cref="ProjectMembership.RequireProjectAdminAsync"/>.</summary>
    public static Task RequireProjectAdminAsync(HttpContext context, Caller caller, Project project) =>
        context.RequestServices.GetRequiredService<ProjectMembership>().RequireProjectAdminAsync(caller, project, context.RequestAborted);

    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static IResult Created(HttpContext context, string location)
    {
        context.Response.Headers.Location = location;
        return Results.StatusCode(StatusCodes.Status201Created);
    }

    /// <summary>Records a management change in the audit log (who is the caller; success only: failures throw before).</summary>
    public static void Audit(HttpContext context, Caller caller, string operation, string resourceType, string resource, string? project) =>
        context.RequestServices.GetService<Wharf.Registry.Audit.IAuditLog>()?.Record(
            caller.IsAnonymous ? global::Wharf.Registry.Api.RegistryCaller.Anonymous : caller.Name, operation, resourceType, resource, project);

    public static void Changed(HttpContext context) => context.RequestServices.GetRequiredService<CredentialVerifier>().Invalidate();

    /// <summary>
    /// After an account's token generation went up (or it was deleted): its tokens already issued stop
    /// working in this process, and remembered Basic checks are forgotten.
    /// </summary>
    public static async Task RevokedAsync(HttpContext context, string kind, long id)
    {
        await context.RequestServices.GetRequiredService<RefreshTokens>().RevokeIssuedAsync(kind, id, context.RequestAborted).ConfigureAwait(false);
        Changed(context);
    }
}
