using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Prometheus;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Metrics;

public static class MetricsServiceCollectionExtensions
{
    /// <summary>The series (always counted) and, when <c>Metrics:Port</c> is set and metrics are on, the separate listener.</summary>
    public static IServiceCollection AddWharfMetrics(this IServiceCollection services, IConfiguration configuration)
    {
        var options = new MetricsOptions();
        configuration.GetSection("Metrics").Bind(options);
        if (options.Port is < 1 or > 65535)
        {
            throw new InvalidOperationException($"Metrics:Port must be a TCP port (1-65535), not {options.Port}");
        }

        if (!options.Path.StartsWith('/'))
        {
            throw new InvalidOperationException($"Metrics:Path must start with '/', not \"{options.Path}\"");
        }

        services.TryAddSingleton(options);
        services.TryAddSingleton<RegistryMetrics>();
        if (options.Enabled && options.Port is not null)
        {
            services.AddHostedService<SeparateMetricsServer>();
        }

        return services;
    }

    /// <summary>
    /// When metrics are on: times every request, fills the project gauges at each scrape, and maps the
    /// metrics path here unless they have a port of their own. Off (the default), the path is not
    /// mapped at all: a 404 like any unknown path.
    /// </summary>
    public static WebApplication UseWharfMetrics(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var options = app.Services.GetRequiredService<MetricsOptions>();
        if (!options.Enabled)
        {
            return app;
        }

        var metrics = app.Services.GetRequiredService<RegistryMetrics>();
        DotNetStats.Register(metrics.Registry);
        if (app.Services.GetService<IProjectStore>() is { } projects && app.Services.GetService<IProjectRepositories>() is { } repositories)
        {
            var storage = new ProjectStorageMetrics(metrics, projects, repositories);
            metrics.Registry.AddBeforeCollectCallback(storage.CollectAsync);
        }

        app.Use(HttpMetrics.Middleware(metrics));
        if (options.Port is null)
        {
            app.MapMetrics(options.Path, metrics.Registry);
        }

        return app;
    }

    /// <summary>Metrics on their own port (Harbor's 9090), so the registry's port need not expose them.</summary>
    private sealed class SeparateMetricsServer(MetricsOptions options, RegistryMetrics metrics) : IHostedService, IDisposable
    {
        private KestrelMetricServer? _server;

        public Task StartAsync(CancellationToken cancellationToken)
        {
            _server = new KestrelMetricServer(options.Host, options.Port!.Value, options.Path, metrics.Registry);
            _server.Start();
            return Task.CompletedTask;
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            if (_server is not null)
            {
                await _server.StopAsync().ConfigureAwait(false);
            }
        }

        public void Dispose() => _server?.Dispose();
    }
}
