using Wharf.Registry.Auth;
using Wharf.Registry.Identity;
using Wharf.Registry.Management;

namespace Wharf.Registry.Projects;

/// <summary>
/// Harbor's rules for project robot accounts, for the management API and the portal: only project admins
/// (system admins count as such) see and change a project's robots; a robot is named
/// <c>robot$&lt;project&gt;+&lt;name&gt;</c>, holds at least one of pull, push, delete, and expires after
/// 1 to 36500 days or never (-1); its secret is returned at creation and on refresh, never again. A
/// change, a refresh or a deletion revokes the tokens already issued to it.
/// </summary>
public sealed class RobotAccounts(
    IRobotStore robots, IProjectStore projects, ProjectMembership membership, IdentityOptions options, PasswordHasher hasher,
    RefreshTokens refreshTokens, CredentialVerifier verifier, TimeProvider time)
{
    public const int DefaultDurationDays = 30;

    public static void CheckName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 128 || !Wharf.Oci.RepositoryName.TryParse(name, out _, out _) || name.Contains('/', StringComparison.Ordinal))
        {
            throw ApiException.BadRequest("robot name must be lower-case letters and digits joined by '.', '_' or '-', at most 128 characters");
        }
    }

    /// <summary>Duration in days from <paramref name="from"/> (now by default); -1 never expires; 0 or null is the default of 30 days.</summary>
    public (int Days, long ExpiresAt) Expiry(long? duration, DateTimeOffset? from = null)
    {
        long days = duration is null or 0 ? DefaultDurationDays : duration.Value;
        if (days == -1)
        {
            return (-1, -1);
        }

        if (days is < 1 or > 36_500)
        {
            throw ApiException.BadRequest("duration must be -1 (never expires) or between 1 and 36500 days");
        }

        return ((int)days, (from ?? time.GetUtcNow()).AddDays(days).ToUnixTimeSeconds());
    }

    public Task RequireManagerAsync(Caller caller, Project project, CancellationToken cancellationToken) =>
        membership.RequireProjectAdminAsync(caller, project, cancellationToken);

    public async Task<IReadOnlyList<Robot>> ListAsync(Caller caller, Project project, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        await RequireManagerAsync(caller, project, cancellationToken).ConfigureAwait(false);
        return await robots.ListAsync(project.Id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates the robot; <paramref name="secret"/> null generates one. Returns the robot and its secret, the only time it is known.</summary>
    public async Task<(Robot Robot, string Secret)> CreateAsync(
        Caller caller, Project project, string? name, string? description, RepositoryActions access, bool disabled, long? duration, string? secret, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        await RequireManagerAsync(caller, project, cancellationToken).ConfigureAwait(false);
        CheckName(name);
        CheckAccess(access);
        var (days, expiresAt) = Expiry(duration);
        if (secret is not null && PasswordHasher.CheckPolicy(secret) is { } weak)
        {
            throw ApiException.BadRequest("secret: " + weak);
        }

        secret ??= PasswordHasher.Generate();
        string fullName = $"{options.RobotPrefix}{project.Name}+{name}";
        var robot = await robots.CreateAsync(fullName, project.Id, description, access, disabled, days, expiresAt, hasher.HashSecret(secret), cancellationToken).ConfigureAwait(false)
            ?? throw ApiException.Conflict($"robot {fullName} already exists");
        return (robot, secret);
    }

    /// <summary>The robot with this id when the caller manages its project (else it is missing, or forbidden once the project is visible).</summary>
    public async Task<(Robot Robot, Project Project)> ManagedAsync(Caller caller, long id, Func<Project, Task<bool>> canSee, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canSee);
        var robot = await robots.FindByIdAsync(id, cancellationToken).ConfigureAwait(false);
        var project = robot is null ? null : await projects.FindByIdAsync(robot.ProjectId, cancellationToken).ConfigureAwait(false);
        if (robot is null || project is null || !await canSee(project).ConfigureAwait(false))
        {
            throw ApiException.NotFound($"robot {id} not found");
        }

        await RequireManagerAsync(caller, project, cancellationToken).ConfigureAwait(false);
        return (robot, project);
    }

    /// <summary>Changes what is given (null keeps it); a new duration counts from the robot's creation, as Harbor's does.</summary>
    public async Task UpdateAsync(Caller caller, Project project, Robot robot, string? description, RepositoryActions? access, bool? disabled, long? duration, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(robot);
        await RequireManagerAsync(caller, project, cancellationToken).ConfigureAwait(false);
        if (access is { } actions)
        {
            CheckAccess(actions);
        }

        var (days, expiresAt) = duration is null || duration == robot.DurationDays ? (robot.DurationDays, robot.ExpiresAt) : Expiry(duration, robot.CreatedAt);
        await robots.UpdateAsync(robot.Id, description ?? robot.Description, access ?? robot.Access, disabled ?? robot.Disabled, days, expiresAt, cancellationToken).ConfigureAwait(false);
        await RevokedAsync(robot, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sets the given secret (if it meets the policy) or a generated one; returns it, the only time it is shown.</summary>
    public async Task<string> RefreshSecretAsync(Caller caller, Project project, Robot robot, string? secret, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(robot);
        await RequireManagerAsync(caller, project, cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(secret) && PasswordHasher.CheckPolicy(secret) is { } weak)
        {
            throw ApiException.BadRequest("secret: " + weak);
        }

        string value = string.IsNullOrEmpty(secret) ? PasswordHasher.Generate() : secret;
        await robots.SetSecretHashAsync(robot.Id, hasher.HashSecret(value), cancellationToken).ConfigureAwait(false);
        await RevokedAsync(robot, cancellationToken).ConfigureAwait(false);
        return value;
    }

    public async Task DeleteAsync(Caller caller, Project project, Robot robot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(robot);
        await RequireManagerAsync(caller, project, cancellationToken).ConfigureAwait(false);
        await robots.DeleteAsync(robot.Id, cancellationToken).ConfigureAwait(false);
        await RevokedAsync(robot, cancellationToken).ConfigureAwait(false);
    }

    private static void CheckAccess(RepositoryActions access)
    {
        if (access == RepositoryActions.None)
        {
            throw ApiException.BadRequest("a robot needs at least one of pull, push, delete on resource repository");
        }
    }

    private async Task RevokedAsync(Robot robot, CancellationToken cancellationToken)
    {
        await refreshTokens.RevokeIssuedAsync("robot", robot.Id, cancellationToken).ConfigureAwait(false);
        verifier.Invalidate();
    }
}
