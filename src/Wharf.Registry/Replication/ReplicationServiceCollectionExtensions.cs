using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Wharf.Registry.Api;
using Wharf.Registry.Proxy;

namespace Wharf.Registry.Replication;

public static class ReplicationServiceCollectionExtensions
{
    /// <summary>
    /// Replication policies, executions and their triggers; needs the endpoints of <c>AddWharfProxyCache</c>.
    /// The registry's event sink (the audit log's) is wrapped so pushes also reach event-based policies.
    /// </summary>
    public static IServiceCollection AddWharfReplication(this IServiceCollection services, IConfiguration configuration)
    {
        var options = new ReplicationOptions();
        configuration.GetSection("Registry:Replication").Bind(options);
        services.TryAddSingleton(options);
        services.TryAddSingleton<ReplicationStore>();
        services.TryAddSingleton<LocalReplicationEndpoint>();
        services.TryAddSingleton<ReplicationRunner>();
        services.TryAddSingleton<ReplicationTriggerService>();
        services.AddHostedService(sp => sp.GetRequiredService<ReplicationTriggerService>());

        var sink = services.LastOrDefault(d => d.ServiceType == typeof(IRegistryEvents));
        if (sink is not null && sink.ImplementationType != typeof(ReplicationRegistryEvents))
        {
            services.Remove(sink);
            services.AddSingleton<IRegistryEvents>(sp => new ReplicationRegistryEvents(Resolve(sp, sink), sp.GetRequiredService<ReplicationTriggerService>()));
        }

        return services;
    }

    private static IRegistryEvents Resolve(IServiceProvider services, ServiceDescriptor descriptor) =>
        (IRegistryEvents)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(services)
            ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));
}
