namespace Wharf.Registry.Projects;

/// <summary>A project: the first path component of its repositories' names. <see cref="StorageLimit"/> null is unlimited.</summary>
public sealed record Project(long Id, string Name, bool Public, long? OwnerId, long? StorageLimit, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>Harbor's project roles, with Harbor's ids (the API speaks these numbers).</summary>
public enum ProjectRole
{
    ProjectAdmin = 1,
    Developer = 2,
    Guest = 3,
    Maintainer = 4,
    LimitedGuest = 5,
}

/// <summary>What can be done to a repository, in the token spec's action words.</summary>
[Flags]
public enum RepositoryActions
{
    None = 0,
    Pull = 1,
    Push = 2,
    Delete = 4,
    All = Pull | Push | Delete,
}

public static class ProjectRoles
{
    public static bool IsDefined(long id) => id is >= 1 and <= 5;

    /// <summary>Harbor's role names as the API writes them.</summary>
    public static string Name(this ProjectRole role) => role switch
    {
        ProjectRole.ProjectAdmin => "projectAdmin",
        ProjectRole.Developer => "developer",
        ProjectRole.Guest => "guest",
        ProjectRole.Maintainer => "maintainer",
        ProjectRole.LimitedGuest => "limitedGuest",
        _ => "unknown",
    };

    /// <summary>Developers push but cannot delete; maintainers and project admins delete; guests pull.</summary>
    public static RepositoryActions Actions(this ProjectRole role) => role switch
    {
        ProjectRole.ProjectAdmin or ProjectRole.Maintainer => RepositoryActions.All,
        ProjectRole.Developer => RepositoryActions.Pull | RepositoryActions.Push,
        ProjectRole.Guest or ProjectRole.LimitedGuest => RepositoryActions.Pull,
        _ => RepositoryActions.None,
    };

    public static RepositoryActions ParseAction(string action) => action switch
    {
        "pull" => RepositoryActions.Pull,
        "push" => RepositoryActions.Push,
        "delete" => RepositoryActions.Delete,
        "*" => RepositoryActions.All,
        _ => RepositoryActions.None,
    };

    public static IEnumerable<string> Names(this RepositoryActions actions)
    {
        if (actions.HasFlag(RepositoryActions.Pull))
        {
            yield return "pull";
        }

        if (actions.HasFlag(RepositoryActions.Push))
        {
            yield return "push";
        }

        if (actions.HasFlag(RepositoryActions.Delete))
        {
            yield return "delete";
        }
    }

    /// <summary>Harbor's project name rule: lower-case letters and digits joined by '.', '_' or '-', up to 255 characters.</summary>
    public static bool IsValidProjectName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 255 && !name.Contains('/', StringComparison.Ordinal)
        && Wharf.Oci.RepositoryName.TryParse(name, out _, out _) && !name.All(char.IsAsciiDigit);
}
