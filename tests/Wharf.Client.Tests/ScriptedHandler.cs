using System.Net;
using System.Text;

namespace Wharf.Client.Tests;

/// <summary>
/// Plays a registry from a script: each expected request (method and URL, checked in order)
/// gets its canned response. Every request actually sent is recorded with its Authorization
/// header and body, so tests can assert the exact sequence.
/// </summary>
internal sealed class ScriptedHandler : HttpMessageHandler
{
    private readonly Queue<(HttpMethod Method, string Url, Func<HttpRequestMessage, HttpResponseMessage> Respond)> _script = new();

    public List<Sent> Requests { get; } = [];

    public sealed record Sent(HttpMethod Method, string Url, string? Authorization, byte[] Body, string? ContentRange);

    public ScriptedHandler Expect(HttpMethod method, string url, Func<HttpRequestMessage, HttpResponseMessage> respond)
    {
        _script.Enqueue((method, url, respond));
        return this;
    }

    public ScriptedHandler Expect(HttpMethod method, string url, HttpStatusCode status, Action<HttpResponseMessage>? configure = null, byte[]? body = null) =>
        Expect(method, url, _ =>
        {
            var r = new HttpResponseMessage(status) { Content = new ByteArrayContent(body ?? []) };
            configure?.Invoke(r);
            return r;
        });

    public ScriptedHandler ExpectThrow(HttpMethod method, string url) =>
        Expect(method, url, _ => throw new HttpRequestException("connection reset by peer"));

    public int Remaining => _script.Count;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        byte[] body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        string? range = request.Content?.Headers.TryGetValues("Content-Range", out var v) == true ? v.First() : null;
        Requests.Add(new Sent(request.Method, request.RequestUri!.ToString(), request.Headers.Authorization?.ToString(), body, range));
        if (_script.Count == 0)
        {
            throw new InvalidOperationException($"unexpected request {request.Method} {request.RequestUri}");
        }

        var (method, url, respond) = _script.Dequeue();
        Assert.Equal(method, request.Method);
        Assert.Equal(url, request.RequestUri.ToString());
        var response = respond(request);
        response.RequestMessage = request;
        return response;
    }

    public static HttpResponseMessage Json(HttpStatusCode status, string json) =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
}
