using System.Globalization;

namespace Wharf.Engine.Jobs;

/// <summary>
/// The submitting user as the container sees them: an /etc/passwd line for their UID (name, home)
/// and /etc/group lines for the job's group and the user's own groups, as the cluster's wrapper
/// generated them, so whoami, id -un, getpass and ssh-based tools find a name. Names come from the
/// host's /etc/passwd and /etc/group, else USER / LOGNAME; IDs without a name get none.
/// </summary>
public sealed record JobIdentity(string PasswdEntry, IReadOnlyList<string> GroupEntries)
{
    public static JobIdentity For(uint uid, uint gid, string home, Func<string, string?> variable, string passwdFile = "/etc/passwd", string groupFile = "/etc/group")
    {
        ArgumentNullException.ThrowIfNull(home);
        ArgumentNullException.ThrowIfNull(variable);
        string id = uid.ToString(CultureInfo.InvariantCulture);
        var passwd = Read(passwdFile);
        var hostUser = passwd.FirstOrDefault(f => f.Length > 3 && f[2] == id);
        string name = hostUser?[0]
            ?? (variable("USER") is { } u && Valid(u) ? u : null)
            ?? (variable("LOGNAME") is { } l && Valid(l) ? l : null)
            ?? "user" + id;
        string shell = "/bin/sh";
        var groups = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Add(string? groupName, string groupId)
        {
            if (groupName is not null && Valid(groupName) && seen.Add(groupId))
            {
                groups.Add($"{groupName}:x:{groupId}:{name}");
            }
        }

        var group = Read(groupFile);
        string primary = gid.ToString(CultureInfo.InvariantCulture);
        Add(group.FirstOrDefault(f => f.Length > 2 && f[2] == primary)?[0], primary);
        string? hostPrimary = hostUser is { Length: > 3 } ? hostUser[3] : null;
        foreach (var f in group)
        {
            if (f.Length > 3 && (f[2] == hostPrimary || f[3].Split(',').Contains(name)))
            {
                Add(f[0], f[2]);
            }
        }

        return new JobIdentity($"{name}:*:{id}:{primary}:{name}:{home}:{shell}", groups);
    }

    public string Name => PasswdEntry.Split(':')[0];

    private static bool Valid(string name) =>
        name.Length > 0 && !name.Any(c => c is ':' or '\n' or ',' || char.IsWhiteSpace(c) || char.IsControl(c));

    private static List<string[]> Read(string path)
    {
        try
        {
            return [.. File.ReadAllLines(path).Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split(':'))];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
