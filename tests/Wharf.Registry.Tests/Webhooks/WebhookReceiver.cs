using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Wharf.Registry.Tests.Webhooks;

/// <summary>One POST the receiver got: its Authorization and Content-Type headers and body.</summary>
public sealed record ReceivedWebhook(string? Authorization, string? ContentType, string Body);

/// <summary>
/// An HTTP endpoint on 127.0.0.1 port 0 (Kestrel) that records every webhook POST. It answers the
/// statuses queued in <see cref="Answers"/> in turn (200 when none is left), and holds every answer
/// while <see cref="Gate"/> is closed.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly SemaphoreSlim _arrived = new(0);
    private TaskCompletionSource _gate = OpenGate();

    private WebhookReceiver(WebApplication app) => _app = app;

    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();

    public ConcurrentQueue<int> Answers { get; } = new();

    public Uri Address { get; private set; } = null!;

    public static async Task<WebhookReceiver> StartAsync(int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hook", receiver.HandleAsync);
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        receiver.Address = new Uri(address.TrimEnd('/') + "/hook");
        return receiver;
    }

    /// <summary>Holds answers until <see cref="Release"/>.</summary>
    public void Close() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => _gate.TrySetResult();

    /// <summary>Waits until <paramref name="count"/> POSTs have arrived in all (generous: the machine may be loaded).</summary>
    public async Task<ReceivedWebhook[]> WaitForAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (Received.Count < count)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await _arrived.WaitAsync(left))
            {
                Assert.Fail($"the receiver got {Received.Count} webhook(s), expected {count}");
            }
        }

        return [.. Received];
    }

    public async ValueTask DisposeAsync()
    {
        Release();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _arrived.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        string body = await reader.ReadToEndAsync(context.RequestAborted);
        Received.Enqueue(new ReceivedWebhook(context.Request.Headers.Authorization, context.Request.ContentType, body));
        _arrived.Release();
        await _gate.Task.WaitAsync(context.RequestAborted);
        context.Response.StatusCode = Answers.TryDequeue(out int status) ? status : StatusCodes.Status200OK;
    }

    private static TaskCompletionSource OpenGate()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }
}
