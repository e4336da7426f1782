using Wharf.Registry.Projects;

namespace Wharf.Registry.Identity;

public enum CallerKind
{
    Anonymous,
    User,
    Robot,
}

/// <summary>Who is asking: nobody, a person, or a project's robot.</summary>
public sealed record Caller(CallerKind Kind, string Name, User? User, Robot? Robot)
{
    public static Caller Anonymous { get; } = new(CallerKind.Anonymous, "", null, null);

    public static Caller ForUser(User user) => new(CallerKind.User, user.Username, user, null);

    public static Caller ForRobot(Robot robot) => new(CallerKind.Robot, robot.Name, null, robot);

    /// <summary>A system admin by the stored flag or, under ldap_auth, by the directory's admin group.</summary>
    public bool IsSysAdmin => User is { } user && (user.SysAdmin || user.AdminRoleInAuth);

    public bool IsAnonymous => Kind == CallerKind.Anonymous;
}
