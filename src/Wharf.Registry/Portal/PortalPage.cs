using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity;
using Wharf.Registry.Management;

namespace Wharf.Registry.Portal;

/// <summary>One portal request: who is signed in, the anti-forgery field for its forms, and the page frame.</summary>
public sealed class PortalPage(HttpContext context, Caller caller)
{
    public HttpContext Context { get; } = context;

    public Caller Caller { get; } = caller;

    public CancellationToken Aborted => Context.RequestAborted;

    public T Service<T>()
        where T : notnull => Context.RequestServices.GetRequiredService<T>();

    private Markup? _antiforgery;

    /// <summary>
    /// The hidden anti-forgery field every form carries (the cookie half is set alongside). Made once per page:
    /// each token costs an encryption, and a page of tags has a form per tag.
    /// </summary>
    public Markup Antiforgery()
    {
        if (_antiforgery is { } field)
        {
            return field;
        }

        var tokens = Service<IAntiforgery>().GetAndStoreTokens(Context);
        field = Html.Of($"<input type=\"hidden\" name=\"{tokens.FormFieldName}\" value=\"{tokens.RequestToken}\">");
        _antiforgery = field;
        return field;
    }

    /// <summary>A form that posts to <paramref name="action"/> with one button; used for every state change.</summary>
    public Markup ButtonForm(string action, string label, Markup fields = default, string css = "") =>
        Html.Of($"<form method=\"post\" action=\"{action}\" class=\"inline\">{Antiforgery()}{fields}<button type=\"submit\" class=\"{css}\">{label}</button></form>");

    /// <summary>The message a redirect after a change carries (?msg=), shown as a status line.</summary>
    public Markup Flash()
    {
        string? message = Context.Request.Query["msg"];
        return string.IsNullOrEmpty(message) ? Markup.Empty : Html.Of($"<p class=\"flash\" role=\"status\">{message}</p>");
    }

    public IResult Render(string title, Markup body, int status = StatusCodes.Status200OK)
    {
        Markup account = Caller.IsAnonymous
            ? Html.Of($"<a href=\"/portal/login\">Sign in</a>")
            : Html.Of($"<a href=\"/portal/account\" aria-label=\"Account of {Caller.Name}\">{Caller.Name}</a> {ButtonForm("/portal/logout", "Sign out", css: "link")}");
        Markup admin = Caller.IsSysAdmin
            ? Html.Of($"<li><a href=\"/portal/admin/users\">Users</a></li><li><a href=\"/portal/admin/gc\">Garbage collection</a></li><li><a href=\"/portal/admin/audit\">Audit log</a></li><li><a href=\"/portal/admin/directory\">Directory</a></li>")
            : Markup.Empty;
        var page = Html.Of($"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{title} · Wharf</title>
            <link rel="stylesheet" href="/portal/static/portal.css">
            </head>
            <body>
            <a class="skip" href="#main">Skip to content</a>
            <header>
            <nav aria-label="Main"><ul><li><a href="/" class="brand">Wharf</a></li><li><a href="/">Projects</a></li>{admin}</ul></nav>
            <div class="account">{account}</div>
            </header>
            <main id="main" tabindex="-1">
            <h1>{title}</h1>
            {Flash()}
            {body}
            </main>
            <script src="/portal/static/portal.js" defer></script>
            </body>
            </html>
            """);
        Context.Response.Headers.CacheControl = "no-store";
        Context.Response.Headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'; form-action 'self'";
        Context.Response.Headers.XContentTypeOptions = "nosniff";
        return Results.Content(page.Value, "text/html; charset=utf-8", statusCode: status);
    }

    public IResult Error(ApiException error) => Render(error.Status switch
    {
        StatusCodes.Status404NotFound => "Not found",
        StatusCodes.Status403Forbidden => "Not allowed",
        StatusCodes.Status401Unauthorized => "Sign in required",
        _ => "Cannot do that",
    }, Html.Of($"<p class=\"error\" role=\"alert\">{error.Message}</p><p><a href=\"/\">Back to the projects</a></p>"), error.Status);

    /// <summary>Back to a page after a change (post/redirect/get), with a line saying what happened.</summary>
    public static IResult Back(string path, string message)
    {
        // The query goes before a #fragment, or the browser would take it for part of the fragment.
        int hash = path.IndexOf('#', StringComparison.Ordinal);
        string fragment = hash < 0 ? "" : path[hash..];
        string target = hash < 0 ? path : path[..hash];
        return Results.Redirect(target + (target.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "msg=" + Uri.EscapeDataString(message) + fragment);
    }

    public Caller RequireUser() => Caller.IsAnonymous ? throw ApiException.Unauthorized() : Caller;
}
