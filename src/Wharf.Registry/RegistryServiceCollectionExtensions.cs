using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Wharf.Registry;

public static class RegistryServiceCollectionExtensions
{
    public static IServiceCollection AddWharfRegistry(this IServiceCollection services, IConfiguration configuration)
    {
        var options = new RegistryOptions();
        configuration.GetSection("Registry").Bind(options);
        services.AddSingleton(options);
        return services;
    }

    public static IEndpointRouteBuilder MapWharfRegistry(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/v2/", () => Microsoft.AspNetCore.Http.Results.Ok());
        return endpoints;
    }
}
