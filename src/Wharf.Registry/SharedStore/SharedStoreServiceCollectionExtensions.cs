using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Wharf.Registry.Api;
using Wharf.Registry.Projects;

namespace Wharf.Registry.SharedStore;

public static class SharedStoreServiceCollectionExtensions
{
    /// <summary>
    /// Publishing into a shared image store (<c>Registry:SharedStore</c>). The options and the records are
    /// always there (the project API reads them); with a store configured the publisher runs and the
    /// event sinks, /v2's and the artifact deletes', are wrapped to feed it. Call after <c>AddWharfWebhooks</c>.
    /// </summary>
    public static IServiceCollection AddWharfSharedStore(this IServiceCollection services, IConfiguration configuration)
    {
        var options = new SharedStoreOptions();
        configuration.GetSection("Registry:SharedStore").Bind(options);
        options.Validate(); // a bad setting stops wharfd at start
        services.TryAddSingleton(options);
        services.TryAddSingleton<SharedStoreRecords>();
        services.TryAddSingleton<SharedStorePublisher>();
        services.TryAddSingleton<SharedStoreProjects>();
        if (!options.Enabled)
        {
            return services;
        }

        services.AddHostedService(sp => sp.GetRequiredService<SharedStorePublisher>());
        var sink = services.LastOrDefault(d => d.ServiceType == typeof(IRegistryEvents));
        if (sink is not null)
        {
            services.Remove(sink);
            services.AddSingleton<IRegistryEvents>(sp => new SharedStoreRegistryEvents((IRegistryEvents)Resolve(sp, sink), sp.GetRequiredService<SharedStorePublisher>()));
        }

        var artifacts = services.LastOrDefault(d => d.ServiceType == typeof(IArtifactEvents));
        if (artifacts is not null)
        {
            services.Remove(artifacts);
            services.AddSingleton<IArtifactEvents>(sp => new SharedStoreArtifactEvents((IArtifactEvents)Resolve(sp, artifacts), sp.GetRequiredService<SharedStorePublisher>()));
        }

        return services;
    }

    private static object Resolve(IServiceProvider services, ServiceDescriptor descriptor) =>
        descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(services)
            ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!);
}
