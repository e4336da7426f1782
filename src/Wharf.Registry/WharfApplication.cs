using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Health;
using Wharf.Registry.Metrics;
using Wharf.Registry.Portal;
using Wharf.Registry.Replication;
using Wharf.Registry.SharedStore;
using Wharf.Registry.Webhooks;

namespace Wharf.Registry;

/// <summary>
/// The one place that composes wharfd: Kestrel limits, services, then the endpoints. The
/// <c>wharfd</c> host and the test servers both build through here, so a test exercises the very
/// routing, authorization and middleware a deployment runs; only where it listens, how it logs and
/// the configuration differ.
/// </summary>
public static class WharfApplication
{
    /// <summary>The largest request body outside blob uploads, which lift it per request.</summary>
    public const long MaxRequestBodySize = 32 * 1024 * 1024;

    /// <summary>
    /// Adds the registry, identities and the management API to <paramref name="builder"/>, builds it
    /// and maps every endpoint. Services the caller registered before are kept where the registry
    /// only fills in defaults (a <see cref="TimeProvider"/>, a quota source, an audit store).
    /// </summary>
    public static WebApplication Build(WebApplicationBuilder builder, Action<RegistryOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = MaxRequestBodySize;
            kestrel.Limits.MinRequestBodyDataRate = null; // slow clients on a busy cluster must not fail a layer push
            // Two of the blob sender's chunks: a pull reads the next chunk while the last one is sent, and
            // holds no more than that however slow its client, so a burst of pulls keeps RSS flat
            // (Api/BlobSender.cs). Other answers are far smaller.
            kestrel.Limits.MaxResponseBufferSize = 2 * Api.BlobSender.ChunkSize;
        });

        builder.Services.AddWharfRegistry(builder.Configuration, configure);
        builder.Services.AddWharfIdentity(builder.Configuration);
        builder.Services.AddWharfReplication(builder.Configuration);
        builder.Services.AddWharfWebhooks(builder.Configuration);
        builder.Services.AddWharfSharedStore(builder.Configuration);
        builder.Services.AddWharfPortal();

        var app = builder.Build();

        // Resolved once so the host owns the data directory's lock and releases it when disposed.
        app.Services.GetRequiredService<Storage.DataDirectoryLock>();
        app.UseWharfMetrics();
        var drain = app.Services.GetRequiredService<Health.ShutdownDrain>();
        app.Use(drain.InvokeAsync);
        app.MapWharfHealth();
        app.MapWharfRegistry();
        app.MapWharfManagement();
        app.MapWharfPortal();
        return app;
    }
}
