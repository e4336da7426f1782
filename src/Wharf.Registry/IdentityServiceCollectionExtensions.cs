using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Wharf.Registry.Api;
using Wharf.Registry.Audit;
using Wharf.Registry.Auth;
using Wharf.Registry.Identity;
using Wharf.Registry.Identity.Ldap;
using Wharf.Registry.Management;
using Wharf.Registry.Projects;
using Wharf.Registry.Proxy;
using Wharf.Registry.Quotas;
using Wharf.Registry.Data;

namespace Wharf.Registry;

public static class IdentityServiceCollectionExtensions
{
    /// <summary>
    /// Accounts, projects, members, robots, the token service and the authorizer that replaces the
    /// open default. Call after <c>AddWharfRegistry</c>: it replaces <see cref="IRegistryAuthorizer"/>
    /// and the unlimited <see cref="IProjectQuotas"/>.
    /// </summary>
    public static IServiceCollection AddWharfIdentity(this IServiceCollection services, IConfiguration configuration)
    {
        var options = new IdentityOptions();
        configuration.GetSection("Registry").Bind(options);
        services.AddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp =>
        {
            string dataDirectory = DataDirectory(sp, configuration);
            // AddWharfRegistry's, when it ran first.
            return RegistryDatabase.Create(sp.GetService<RegistryOptions>()?.Database ?? configuration["Registry:Database"], dataDirectory);
        });
        services.TryAddSingleton(sp => TokenSigningKey.LoadOrCreate(DataDirectory(sp, configuration)));
        services.TryAddSingleton<IUserStore, SqliteUserStore>();
        services.TryAddSingleton<IProjectStore, SqliteProjectStore>();
        services.TryAddSingleton<SqliteMemberStore>();
        services.TryAddSingleton<IMemberStore, GroupAwareMemberStore>();
        services.TryAddSingleton<IRobotStore, SqliteRobotStore>();
        services.TryAddSingleton<LocalIdentitySource>();
        services.AddWharfDirectory(configuration);
        services.TryAddSingleton<IIdentitySource, DirectoryIdentitySource>();
        services.TryAddSingleton<IProjectRepositories>(sp => new MetadataProjectRepositories(sp.GetRequiredService<Metadata.IMetadataStore>()));
        services.TryAddSingleton<PasswordHasher>();
        services.AddHttpContextAccessor();
        services.TryAddSingleton<LoginThrottle>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.AspNetCore.Hosting.IStartupFilter, LoginThrottleResponses>());
        services.TryAddSingleton<CredentialVerifier>();
        services.TryAddSingleton<AccessEvaluator>();
        services.TryAddSingleton<ProjectMembership>();
        services.TryAddSingleton<ProjectRules>();
        services.TryAddSingleton<RobotAccounts>();
        services.TryAddSingleton<IArtifactEvents, NoArtifactEvents>();
        services.TryAddSingleton<ArtifactRules>();
        services.TryAddSingleton<Policies.ImmutableTagRules>();
        services.TryAddSingleton<Labels.LabelStore>();
        services.TryAddSingleton<Labels.LabelRules>();
        var retention = new Retention.RetentionOptions();
        configuration.GetSection("Registry:Retention").Bind(retention);
        services.TryAddSingleton(retention);
        services.TryAddSingleton<Retention.RetentionStore>();
        services.TryAddSingleton<Retention.RetentionPolicies>();
        services.TryAddSingleton<Retention.IRetentionCandidateStore>(sp => sp.GetRequiredService<Metadata.IMetadataStore>() as Retention.IRetentionCandidateStore
            ?? throw new InvalidOperationException("the metadata store does not list retention candidates"));
        services.TryAddSingleton<Retention.RetentionRunner>();
        services.TryAddSingleton<Retention.RetentionScheduler>();
        services.AddHostedService(sp => sp.GetRequiredService<Retention.RetentionScheduler>());
        services.TryAddSingleton<UserAccounts>();
        services.TryAddSingleton<RegistryTokens>();
        services.TryAddSingleton<RefreshTokens>();
        services.TryAddSingleton<TokenService>();
        services.TryAddSingleton<TokenRegistryAuthorizer>();
        if (!options.OpenRegistry)
        {
            services.RemoveAll<IRegistryAuthorizer>();
            services.AddSingleton<IRegistryAuthorizer>(sp => sp.GetRequiredService<TokenRegistryAuthorizer>());
        }

        services.TryAddSingleton<IAuditLogStore, SqliteAuditLogStore>();
        services.TryAddSingleton<AuditLog>();
        services.TryAddSingleton<IAuditLog>(sp => sp.GetRequiredService<AuditLog>());
        services.AddHostedService(sp => sp.GetRequiredService<AuditLog>());
        services.TryAddSingleton<AuditPurgeStore>();
        services.TryAddSingleton<AuditPurge>();
        services.AddHostedService(sp => sp.GetRequiredService<AuditPurge>());
        var accounting = new Accounting.PullAccountingOptions();
        configuration.GetSection("Registry:PullAccounting").Bind(accounting);
        services.TryAddSingleton(accounting);
        services.TryAddSingleton<Accounting.PullAccounting>();
        services.AddHostedService(sp => sp.GetRequiredService<Accounting.PullAccounting>());
        services.RemoveAll<IRegistryEvents>();
        services.AddSingleton<IRegistryEvents, AuditRegistryEvents>();

        // Projects' limits replace the unlimited default, but a quota source the host registered on
        // purpose (a test pinning limits through the real pipeline) is kept.
        if (services.All(d => d.ServiceType != typeof(IProjectQuotas) || d.ImplementationType == typeof(UnlimitedProjectQuotas)))
        {
            services.RemoveAll<IProjectQuotas>();
            services.AddSingleton<IProjectQuotas, ProjectQuotas>();
        }
        services.AddHostedService<AdminBootstrap>();
        services.AddWharfProxyCache(configuration);
        return services;
    }

    /// <summary>The token service (/service/token), docker search (/v1/search) and the management API (/api/v2.0).</summary>
    public static IEndpointRouteBuilder MapWharfManagement(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(TokenEndpoints.Path, TokenEndpoints.GetAsync);
        endpoints.MapPost(TokenEndpoints.Path, TokenEndpoints.PostAsync);
        SearchEndpoint.Map(endpoints);
        ManagementApi.Map(endpoints);
        return endpoints;
    }

    private static string DataDirectory(IServiceProvider services, IConfiguration configuration) =>
        services.GetService<RegistryOptions>()?.DataDirectory ?? configuration["Registry:DataDirectory"] ?? "wharf-data";
}
