using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Wharf.Oci;

namespace Wharf.Registry.Tests.Proxy;

/// <summary>
/// A distribution-API upstream on a real Kestrel socket (127.0.0.1, port 0, HTTP or HTTPS with a
/// given certificate) whose answers a test scripts: a blob can be held after its first bytes until
/// the test releases it, or cut off once; manifest answers can wait for a gate or fail with a status.
/// It counts every request, so a test sees exactly what the proxy asked.
/// </summary>
public sealed class ScriptedUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, (string MediaType, byte[] Body)> _manifests = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte[]> _blobs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (int After, TaskCompletionSource Gate)> _heldBlobs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _cutBlobs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _requests = new(StringComparer.Ordinal);
    private int _manifestFailures;
    private int _manifestFailureStatus;

    private ScriptedUpstream(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    public Uri Url { get; }

    /// <summary>Manifest GETs wait for this when set (HEADs do not).</summary>
    public TaskCompletionSource? ManifestGate { get; set; }

    public static async Task<ScriptedUpstream> StartAsync(X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }));
        var app = builder.Build();
        ScriptedUpstream? upstream = null;
        app.Run(context => upstream!.AnswerAsync(context));
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        upstream = new ScriptedUpstream(app, new Uri($"{address.Scheme}://127.0.0.1:{address.Port}/"));
        return upstream;
    }

    /// <summary>Adds an image (config + layers) tagged <paramref name="tag"/>; returns the manifest's digest and bytes.</summary>
    public (Digest Digest, byte[] Body) AddImage(string repository, string tag, params byte[][] layers)
    {
        byte[] config = System.Text.Encoding.UTF8.GetBytes("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
        AddBlob(config);
        var entries = layers.Select(l => $"{{\"mediaType\":\"{MediaTypes.OciLayerGzip}\",\"digest\":\"{AddBlob(l)}\",\"size\":{l.Length}}}");
        byte[] manifest = System.Text.Encoding.UTF8.GetBytes(
            $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{Digest.Compute(config)}\",\"size\":{config.Length}}},\"layers\":[{string.Join(',', entries)}]}}");
        var digest = Digest.Compute(manifest);
        _manifests[$"{repository}:{tag}"] = (MediaTypes.OciManifest, manifest);
        _manifests[$"{repository}:{digest}"] = (MediaTypes.OciManifest, manifest);
        return (digest, manifest);
    }

    public Digest AddBlob(byte[] content)
    {
        var digest = Digest.Compute(content);
        _blobs[digest.ToString()] = content;
        return digest;
    }

    /// <summary>The next GET of the blob sends <paramref name="after"/> bytes, then waits until the returned gate is released.</summary>
    public TaskCompletionSource HoldBlob(Digest digest, int after)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _heldBlobs[digest.ToString()] = (after, gate);
        return gate;
    }

    /// <summary>The next GET of the blob sends <paramref name="after"/> bytes and then drops the connection.</summary>
    public void CutBlobOnce(Digest digest, int after) => _cutBlobs[digest.ToString()] = after;

    /// <summary>The next <paramref name="count"/> manifest requests (HEAD or GET) are answered with <paramref name="status"/>.</summary>
    public void FailManifests(int count, int status)
    {
        Volatile.Write(ref _manifestFailureStatus, status);
        Volatile.Write(ref _manifestFailures, count);
    }

    /// <summary>How many requests "METHOD /path" the upstream received.</summary>
    public int Requests(string methodAndPath) => _requests.GetValueOrDefault(methodAndPath);

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, gate) in _heldBlobs.Values)
        {
            gate.TrySetResult();
        }

        ManifestGate?.TrySetResult();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }

    private async Task AnswerAsync(HttpContext context)
    {
        string path = context.Request.Path.Value ?? "/";
        _requests.AddOrUpdate($"{context.Request.Method} {path}", 1, (_, n) => n + 1);
        var response = context.Response;
        if (path == "/v2/")
        {
            response.StatusCode = 200;
            return;
        }

        int manifests = path.IndexOf("/manifests/", StringComparison.Ordinal);
        if (manifests > 0)
        {
            if (HttpMethods.IsGet(context.Request.Method) && ManifestGate is { } gate)
            {
                await gate.Task;
            }

            if (Interlocked.Decrement(ref _manifestFailures) >= 0)
            {
                response.StatusCode = Volatile.Read(ref _manifestFailureStatus);
                return;
            }

            string key = path[4..manifests] + ":" + path[(manifests + 11)..];
            if (!_manifests.TryGetValue(key, out var manifest))
            {
                response.StatusCode = 404;
                return;
            }

            response.ContentType = manifest.MediaType;
            response.ContentLength = manifest.Body.Length;
            response.Headers["Docker-Content-Digest"] = Digest.Compute(manifest.Body).ToString();
            if (HttpMethods.IsGet(context.Request.Method))
            {
                await response.Body.WriteAsync(manifest.Body);
            }

            return;
        }

        int blobs = path.IndexOf("/blobs/", StringComparison.Ordinal);
        string digest = blobs > 0 ? path[(blobs + 7)..] : string.Empty;
        if (!_blobs.TryGetValue(digest, out var content))
        {
            response.StatusCode = 404;
            return;
        }

        response.ContentType = "application/octet-stream";
        response.ContentLength = content.Length;
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            return;
        }

        if (_cutBlobs.TryRemove(digest, out int cutAfter))
        {
            await response.Body.WriteAsync(content.AsMemory(0, cutAfter));
            await response.Body.FlushAsync();
            context.Abort();
            return;
        }

        if (_heldBlobs.TryRemove(digest, out var held))
        {
            await response.Body.WriteAsync(content.AsMemory(0, held.After));
            await response.Body.FlushAsync();
            await held.Gate.Task;
            await response.Body.WriteAsync(content.AsMemory(held.After));
            return;
        }

        await response.Body.WriteAsync(content);
    }
}
