using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Wharf.Registry.Data;

namespace Wharf.Registry.Identity.Ldap;

public static class DirectoryServiceCollectionExtensions
{
    /// <summary>LDAP logins and groups (Harbor's ldap_auth): settings, the directory client, group roles and their error answers.</summary>
    public static IServiceCollection AddWharfDirectory(this IServiceCollection services, IConfiguration configuration)
    {
        // The configuration the host handed over, not whatever IConfiguration the container may hold.
        services.TryAddSingleton(sp => new AuthConfiguration(sp.GetRequiredService<RegistryDatabase>(), configuration));
        services.TryAddSingleton<LdapDirectory>();
        services.TryAddSingleton<DirectoryAccounts>();
        services.TryAddSingleton<UserGroupStore>();
        services.TryAddSingleton<DirectoryGroupRoles>();
        services.TryAddSingleton<RememberedDirectoryLogins>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.AspNetCore.Hosting.IStartupFilter, DirectoryResponses>());
        services.AddHostedService<DirectoryStartupCheck>();
        return services;
    }
}
