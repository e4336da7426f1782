using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Wharf.Registry.Api;
using Wharf.Registry.Auth;
using Wharf.Registry.Data;
using Wharf.Registry.Gc;
using Wharf.Registry.Metadata;
using Wharf.Registry.Metrics;
using Wharf.Registry.Quotas;
using Wharf.Registry.Storage;

namespace Wharf.Registry;

public static class RegistryServiceCollectionExtensions
{
    /// <summary>
    /// The registry's services: the embedded metadata store and filesystem blob store under
    /// <see cref="RegistryOptions.DataDirectory"/>, the open authorizer and unlimited quotas unless
    /// something registered others first.
    /// </summary>
    public static IServiceCollection AddWharfRegistry(this IServiceCollection services, IConfiguration configuration, Action<RegistryOptions>? configure = null)
    {
        var options = new RegistryOptions();
        configuration.GetSection("Registry").Bind(options);
        configure?.Invoke(options);
        options.DataDirectory = Path.GetFullPath(options.DataDirectory);
        // On PostgreSQL the data directory holds no database: no empty registry.db is made there.
        PrivateFiles.SecureDataDirectory(options.DataDirectory, string.IsNullOrWhiteSpace(options.Database) ? "registry.db" : null);

        // Taken before anything opens the database, held until the host is disposed.
        var dataLock = DataDirectoryLock.Acquire(options.DataDirectory, shared: options.SharedDataDirectory);
        services.AddSingleton(_ => dataLock);
        services.AddSingleton(options);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.AspNetCore.Hosting.IStartupFilter, Api.NulCharacterRule>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.AspNetCore.Hosting.IStartupFilter, DatabaseUnavailableResponses>());
        services.TryAddSingleton(TimeProvider.System);
        // The one database every store of the registry uses (Data/RegistryDatabase.cs).
        services.TryAddSingleton(_ => RegistryDatabase.Create(options.Database, options.DataDirectory));
        services.TryAddSingleton<IMetadataStore>(sp => new SqliteMetadataStore(sp.GetRequiredService<RegistryDatabase>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(sp => new DatabaseLeases(sp.GetRequiredService<RegistryDatabase>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IBlobStore>(_ => new FileSystemBlobStore(options.DataDirectory));
        services.TryAddSingleton<IRegistryAuthorizer, OpenRegistryAuthorizer>();
        services.TryAddSingleton<IProjectQuotas, UnlimitedProjectQuotas>();
        // Several instances: a write through another one could not drop this one's entries, so no cache.
        services.TryAddSingleton(_ => new ManifestCache { Enabled = !options.SharedDataDirectory });
        services.TryAddSingleton<IGcMetadataStore>(sp => sp.GetRequiredService<IMetadataStore>());
        services.TryAddSingleton<BlobLocks>();
        services.TryAddSingleton<UploadSessions>();
        services.TryAddSingleton<GarbageCollector>();
        services.TryAddSingleton<GcJobs>();
        services.TryAddSingleton<IRegistryEvents, NoRegistryEvents>();
        services.TryAddSingleton<IArtifactStore>(sp => sp.GetRequiredService<IMetadataStore>() as IArtifactStore
            ?? throw new InvalidOperationException("the metadata store does not keep artifact details"));
        services.TryAddSingleton<Policies.IImmutableTagRuleStore>(sp => sp.GetRequiredService<IMetadataStore>() as Policies.IImmutableTagRuleStore
            ?? throw new InvalidOperationException("the metadata store does not keep immutable tag rules"));
        services.AddWharfMetrics(configuration);
        services.TryAddSingleton(sp => sp.GetRequiredService<MetricsOptions>().Enabled
            ? ActivatorUtilities.CreateInstance<RegistryApi>(sp, TimedMetadataStore.Wrap(sp.GetRequiredService<IMetadataStore>(), sp.GetRequiredService<RegistryMetrics>()))
            : ActivatorUtilities.CreateInstance<RegistryApi>(sp));
        // Drains before the server stops (Health/ShutdownDrain.cs); the host's own limit leaves it its time.
        services.AddSingleton<Health.ShutdownDrain>();
        services.AddHostedService(sp => sp.GetRequiredService<Health.ShutdownDrain>());
        services.Configure<Microsoft.Extensions.Hosting.HostOptions>(host =>
            host.ShutdownTimeout = options.ShutdownTimeout + TimeSpan.FromSeconds(10));
        services.AddHostedService<GcScheduler>();
        services.AddHostedService<UploadJanitor>();
        if (!string.IsNullOrWhiteSpace(options.Database))
        {
            // Instances on other hosts share no data-directory lock: a heartbeat row says this one is live.
            // The shutdown drain runs in StoppingAsync, before any StopAsync, so the row goes only once
            // no upload is still finishing here.
            services.AddHostedService<InstanceHeartbeat>();
        }

        return services;
    }

    /// <summary>Maps <c>/v2/</c> and <c>/healthz</c> (<c>/metrics</c> is <see cref="MetricsServiceCollectionExtensions.UseWharfMetrics"/>'s).</summary>
    public static IEndpointRouteBuilder MapWharfRegistry(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.ServiceProvider.GetRequiredService<RegistryApi>();
        RequestDelegate handler = StorageFull.Guard(api.HandleAsync);
        endpoints.Map("/v2", handler);
        endpoints.Map("/v2/{**path}", handler);
        endpoints.MapGet("/healthz", async context =>
        {
            // Healthy when the database answers. In ldap_auth mode a second line gives the directory's
            // state; a directory outage is not the registry's (pulls, robots and the local admin go on).
            var store = context.RequestServices.GetRequiredService<IMetadataStore>();
            await store.ListRepositoriesAsync(null, 1, context.RequestAborted).ConfigureAwait(false);
            string? directory = await Management.SystemEndpoints.DirectoryLineAsync(context).ConfigureAwait(false);
            context.Response.ContentType = "text/plain";
            await context.Response.WriteAsync(directory is null ? "ok\n" : $"ok\n{directory}\n", context.RequestAborted).ConfigureAwait(false);
        });
        return endpoints;
    }
}
