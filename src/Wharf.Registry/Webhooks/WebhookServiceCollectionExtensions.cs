using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Wharf.Registry.Api;
using Wharf.Registry.Metrics;

namespace Wharf.Registry.Webhooks;

public static class WebhookServiceCollectionExtensions
{
    /// <summary>
    /// Project webhooks: policies, the delivery queue and sender. The registry's event sink (audit,
    /// replication) is wrapped so the same events also reach the webhook policies. Call after
    /// <c>AddWharfIdentity</c> and <c>AddWharfReplication</c>.
    /// </summary>
    public static IServiceCollection AddWharfWebhooks(this IServiceCollection services, IConfiguration configuration)
    {
        var options = new WebhookOptions();
        configuration.GetSection("Webhooks").Bind(options);
        if (options.MaxAttempts < 1 || options.MaxConcurrentDeliveries < 1 || options.QueueLength < 1 || options.RetryDelay < TimeSpan.Zero
            || options.Timeout <= TimeSpan.Zero || options.QuotaWarningPercent is < 1 or > 100)
        {
            throw new InvalidOperationException(
                "Webhooks settings: MaxAttempts, MaxConcurrentDeliveries and QueueLength must be at least 1, RetryDelay not negative, Timeout positive, QuotaWarningPercent 1-100");
        }

        services.TryAddSingleton(options);
        services.TryAddSingleton(new WebhookTargetNetworks(options)); // a malformed network stops wharfd at start
        services.TryAddSingleton<RegistryMetrics>();
        services.TryAddSingleton<WebhookStore>();
        services.TryAddSingleton<WebhookQueue>();
        services.TryAddSingleton<WebhookPolicies>();
        services.TryAddSingleton<WebhookSender>();
        services.AddHostedService(sp => sp.GetRequiredService<WebhookSender>());
        services.AddHostedService<WebhookDispatcher>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Replication.IReplicationListener, WebhookReplicationListener>());
        services.Replace(ServiceDescriptor.Singleton<Projects.IArtifactEvents, WebhookArtifactEvents>());

        var sink = services.LastOrDefault(d => d.ServiceType == typeof(IRegistryEvents));
        if (sink is not null && services.All(d => d.ServiceType != typeof(WebhookNotifier)))
        {
            services.Remove(sink);
            services.AddSingleton(sp => new WebhookNotifier(
                Resolve(sp, sink), sp.GetRequiredService<WebhookStore>(), sp.GetRequiredService<WebhookQueue>(), sp.GetRequiredService<TimeProvider>()));
            services.AddSingleton<IRegistryEvents>(sp => sp.GetRequiredService<WebhookNotifier>());
        }

        return services;
    }

    private static IRegistryEvents Resolve(IServiceProvider services, ServiceDescriptor descriptor) =>
        (IRegistryEvents)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(services)
            ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));
}
