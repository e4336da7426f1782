using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Registry.Data;

namespace Wharf.Registry.Identity;

/// <summary>
/// On start: creates the schema and, when there is no <c>admin</c> account yet, creates it with the
/// configured password (WHARF_ADMIN_PASSWORD or Registry:AdminPassword) or a generated one printed
/// once to standard output (the only place it ever appears), and the public <c>library</c> project. Taking the token signing key here
/// creates it on first start, so a problem with it shows at startup rather than at the first login.
/// </summary>
public sealed partial class AdminBootstrap(
    RegistryDatabase database, IUserStore users, Projects.IProjectStore projects, PasswordHasher hasher, IdentityOptions options, Auth.TokenSigningKey signingKey, ILogger<AdminBootstrap> logger) : IHostedService
{
    public const string AdminUsername = "admin";
    public const string LibraryProject = "library";
    public const string AdminPasswordVariable = "WHARF_ADMIN_PASSWORD";

    /// <summary>Where the generated password goes; standard output unless a test captures it.</summary>
    public TextWriter Output { get; set; } = Console.Out;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await database.InitializeAsync(cancellationToken).ConfigureAwait(false);
        LogSigningKey(logger, signingKey.KeyId);
        if (await users.FindByNameAsync(AdminUsername, cancellationToken).ConfigureAwait(false) is not null)
        {
            return;
        }

        string? configured = Environment.GetEnvironmentVariable(AdminPasswordVariable);
        if (string.IsNullOrEmpty(configured))
        {
            configured = options.AdminPassword;
        }

        string password = string.IsNullOrEmpty(configured) ? PasswordHasher.Generate() : configured;
        var admin = await users.CreateAsync(new NewUser(AdminUsername, null, "system admin", "created on first start", SysAdmin: true), hasher.Hash(password), cancellationToken).ConfigureAwait(false);
        if (admin is null)
        {
            return; // another instance created it first
        }

        // As Harbor does at installation: a public "library" project, so registry/library/<image>
        // works from the first push.
        if (options.CreateLibraryProject)
        {
            await projects.CreateAsync(LibraryProject, isPublic: true, admin.Id, storageLimit: null, cancellationToken).ConfigureAwait(false);
        }

        if (string.IsNullOrEmpty(configured))
        {
            await Output.WriteLineAsync($"wharfd: created the admin account; its password is: {password}").ConfigureAwait(false);
            await Output.WriteLineAsync($"wharfd: (shown only now; set {AdminPasswordVariable} before the first start to choose it)").ConfigureAwait(false);
            await Output.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        LogAdminCreated(logger, AdminUsername);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Registry tokens are signed with key {KeyId}")]
    private static partial void LogSigningKey(ILogger logger, string keyId);

    [LoggerMessage(EventId = 4100, Level = LogLevel.Information, Message = "Created system admin account {Username}")]
    private static partial void LogAdminCreated(ILogger logger, string username);
}
