using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Wharf.Registry.Proxy;

public static class ProxyServiceCollectionExtensions
{
    /// <summary>Upstream endpoints and proxy-cache projects; needs the projects of <c>AddWharfIdentity</c>.</summary>
    public static IServiceCollection AddWharfProxyCache(this IServiceCollection services, IConfiguration configuration)
    {
        var options = new ProxyCacheOptions();
        configuration.GetSection("Registry:ProxyCache").Bind(options);
        services.TryAddSingleton(options);
        services.TryAddSingleton<IUpstreamRegistryStore, SqliteUpstreamRegistryStore>();
        services.TryAddSingleton<UpstreamClients>();
        services.TryAddSingleton<ProxyCache>();
        services.TryAddSingleton<ProxyPullLog>();
        services.TryAddSingleton<ProxyEviction>();
        services.AddHostedService(sp => sp.GetRequiredService<ProxyEviction>());
        return services;
    }
}
