using Wharf.Content.Layers;

namespace Wharf.Engine.Containers;

/// <summary>Path lookups inside a container's root filesystem, following symlinks as the container would see them.</summary>
public static class RootfsPaths
{
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>
    /// The host path of <paramref name="path"/> inside <paramref name="root"/>: symlinks are followed
    /// with absolute targets taken relative to the root and <c>..</c> never leaving it.
    /// </summary>
    public static string Resolve(string root, string path)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(path);
        var parts = new Stack<string>(path.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
        var current = new List<string>();
        int hops = 0;
        while (parts.Count > 0)
        {
            string part = parts.Pop();
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (current.Count > 0)
                {
                    current.RemoveAt(current.Count - 1);
                }

                continue;
            }

            string candidate = Path.Combine(root, string.Join('/', current.Append(part)));
            var info = new FileInfo(candidate);
            if (info.Exists || Directory.Exists(candidate))
            {
                string? target = info.Exists ? info.LinkTarget : new DirectoryInfo(candidate).LinkTarget;
                if (target is not null)
                {
                    if (++hops > 40)
                    {
                        throw new WharfException($"too many levels of symbolic links resolving {path}");
                    }

                    if (target.StartsWith('/'))
                    {
                        current.Clear();
                    }

                    foreach (string t in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse())
                    {
                        parts.Push(t);
                    }

                    continue;
                }
            }

            current.Add(part);
        }

        return Path.Combine(root, string.Join('/', current));
    }

    /// <summary>Why a command cannot run: 127 when not found, 126 when not executable; null when it can.</summary>
    public static WharfException? CheckCommand(string root, string command, string cwd, IEnumerable<string> env, IEnumerable<string>? volumes = null)
    {
        // A command may live on a bind mount (-v SRC:DST): look for it on the host side there.
        var binds = (volumes ?? [])
            .Select(v => v.Split(':'))
            .Where(p => p.Length >= 2 && p[1].StartsWith('/'))
            .Select(p => (Destination: p[1].TrimEnd('/'), Source: p[0]))
            .OrderByDescending(b => b.Destination.Length)
            .ToList();
        string Resolve(string root, string inside)
        {
            foreach (var (destination, source) in binds)
            {
                if (inside == destination || inside.StartsWith(destination + "/", StringComparison.Ordinal))
                {
                    return source + inside[destination.Length..];
                }
            }

            return RootfsPaths.Resolve(root, inside);
        }

        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(env);
        string? found = null;
        if (command.Contains('/', StringComparison.Ordinal))
        {
            string inside = command.StartsWith('/') ? command : cwd.TrimEnd('/') + "/" + command;
            string host = Resolve(root, inside);
            if (File.Exists(host) || Directory.Exists(host))
            {
                found = host;
            }
        }
        else
        {
            string pathVar = env.LastOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?[5..] ?? DefaultPath;
            foreach (string dir in pathVar.Split(':', StringSplitOptions.RemoveEmptyEntries))
            {
                string host = Resolve(root, dir + "/" + command);
                if (File.Exists(host) && IsExecutable(host))
                {
                    return null;
                }

                if (found is null && File.Exists(host))
                {
                    found = host;
                }
            }

            if (found is null)
            {
                return new WharfException(
                    $"runc: runc create failed: unable to start container process: exec: \"{command}\": executable file not found in $PATH: OCI runtime attempted to invoke a command that was not found", 127);
            }
        }

        if (found is null)
        {
            return new WharfException(
                $"runc: runc create failed: unable to start container process: exec: \"{command}\": stat {command}: no such file or directory: OCI runtime attempted to invoke a command that was not found", 127);
        }

        if (Directory.Exists(found) || !IsExecutable(found))
        {
            return new WharfException(
                $"runc: runc create failed: unable to start container process: exec: \"{command}\": permission denied: OCI permission denied", 126);
        }

        return null;
    }

    private static bool IsExecutable(string path) =>
        FileStatus.Stat(path) is { } st && (st.Mode & 0x49) != 0;

    /// <summary>
    /// A user spec (<c>uid</c>, <c>uid:gid</c>, <c>name</c>, <c>name:group</c>) resolved through the
    /// rootfs's /etc/passwd and /etc/group, as podman does; numeric IDs need no entry.
    /// </summary>
    public static (uint Uid, uint Gid, List<uint> Groups, string Home) ResolveUser(string root, string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string userPart = spec, groupPart = string.Empty;
        int colon = spec.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            userPart = spec[..colon];
            groupPart = spec[(colon + 1)..];
        }

        if (userPart.Length == 0)
        {
            userPart = "0";
        }

        var passwd = ReadDb(root, "/etc/passwd");
        var group = ReadDb(root, "/etc/group");
        uint uid, gid = 0;
        string home = "/";
        string? userName = null;
        if (uint.TryParse(userPart, out uid))
        {
            var entry = passwd.FirstOrDefault(p => p.Length > 3 && p[2] == userPart);
            if (entry is not null)
            {
                userName = entry[0];
                gid = uint.TryParse(entry[3], out uint g) ? g : 0;
                home = entry.Length > 5 && entry[5].Length > 0 ? entry[5] : "/";
            }
            else if (uid == 0)
            {
                home = "/root";
            }
        }
        else
        {
            var entry = passwd.FirstOrDefault(p => p.Length > 3 && p[0] == userPart)
                ?? throw new WharfException($"unable to find user {userPart}: no matching entries in passwd file");
            userName = entry[0];
            uid = uint.TryParse(entry[2], out uint u) ? u : 0;
            gid = uint.TryParse(entry[3], out uint g) ? g : 0;
            home = entry.Length > 5 && entry[5].Length > 0 ? entry[5] : "/";
        }

        if (groupPart.Length > 0)
        {
            if (!uint.TryParse(groupPart, out gid))
            {
                var entry = group.FirstOrDefault(g => g.Length > 2 && g[0] == groupPart)
                    ?? throw new WharfException($"unable to find group {groupPart}: no matching entries in group file");
                gid = uint.TryParse(entry[2], out uint g) ? g : 0;
            }
        }

        var extra = new List<uint>();
        if (userName is not null)
        {
            foreach (var g in group)
            {
                if (g.Length > 3 && g[3].Split(',').Contains(userName) && uint.TryParse(g[2], out uint id) && id != gid && !extra.Contains(id))
                {
                    extra.Add(id);
                }
            }
        }

        return (uid, gid, extra, home);
    }

    private static List<string[]> ReadDb(string root, string file)
    {
        string host = Resolve(root, file);
        if (!File.Exists(host))
        {
            return [];
        }

        return [.. File.ReadAllLines(host).Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split(':'))];
    }
}
