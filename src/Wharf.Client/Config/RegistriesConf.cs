using Tomlyn;
using Tomlyn.Model;

namespace Wharf.Client.Config;

public sealed record RegistryMirror(string Location, bool Insecure, string PullFromMirror);

public sealed record RegistryEntry(
    string Prefix, string Location, bool Insecure, bool Blocked, bool MirrorByDigestOnly, IReadOnlyList<RegistryMirror> Mirrors);

public sealed record ShortNameAlias(string Value, string Source);

/// <summary>
/// containers-registries.conf(5), version 2: the main file (<c>$CONTAINERS_REGISTRIES_CONF</c>,
/// else <c>~/.config/containers/registries.conf</c> when it exists, else the system file), then the
/// drop-ins of <c>registries.conf.d</c> (system, then the user's; only the user's after the user's
/// own main file), each overriding what it sets.
/// </summary>
public sealed class RegistriesConf
{
    private readonly Dictionary<string, RegistryEntry> _registries = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ShortNameAlias> _aliases = new(StringComparer.Ordinal);

    public string MainPath { get; private set; } = string.Empty;

    public IReadOnlyList<string> UnqualifiedSearchRegistries { get; private set; } = [];

    /// <summary>The file that set the search registries, for podman's "Resolving … (path)" message.</summary>
    public string UnqualifiedSearchRegistriesSource { get; private set; } = string.Empty;

    public string ShortNameMode { get; private set; } = "permissive";

    public IReadOnlyCollection<RegistryEntry> Registries => _registries.Values;

    public IReadOnlyDictionary<string, ShortNameAlias> Aliases => _aliases;

    public static RegistriesConf Load(HostEnvironment env)
    {
        ArgumentNullException.ThrowIfNull(env);
        var conf = new RegistriesConf();
        string user = Path.Combine(env.ConfigHome, "containers", "registries.conf");
        string systemDropIns = Path.Combine(env.SystemConfigDirectory, "registries.conf.d");
        string userDropIns = Path.Combine(env.ConfigHome, "containers", "registries.conf.d");
        string? explicitFile = env.Get("CONTAINERS_REGISTRIES_CONF");
        bool userFile = explicitFile is null && !env.IsRoot && File.Exists(user);
        string main = explicitFile ?? (userFile ? user : Path.Combine(env.SystemConfigDirectory, "registries.conf"));
        conf.MainPath = main;
        conf.UnqualifiedSearchRegistriesSource = main;
        if (File.Exists(main))
        {
            conf.Merge(File.ReadAllText(main), main);
        }

        // containers-registries.conf.d(5): a user's own registries.conf replaces the system file and
        // the system drop-ins with it. $CONTAINERS_REGISTRIES_CONF replaces only the main file:
        // containers-image still reads both drop-in directories after it (podman 4.3 does, observed).
        string[] dropIns = userFile ? [userDropIns] : [systemDropIns, userDropIns];
        foreach (string dir in dropIns)
        {
            if (!Directory.Exists(dir))
            {
                continue;
            }

            foreach (string file in Directory.GetFiles(dir, "*.conf").Order(StringComparer.Ordinal))
            {
                conf.Merge(File.ReadAllText(file), file);
            }
        }

        return conf;
    }

    /// <summary>Parses one file's text and lays it over what is loaded so far.</summary>
    public void Merge(string text, string source)
    {
        TomlTable model;
        try
        {
            model = TomlSerializer.Deserialize(text, TomlModelContext.Default.TomlTable) ?? [];
        }
        catch (TomlException e)
        {
            throw new InvalidDataException($"loading registries configuration \"{source}\": {e.Message}", e);
        }

        if (string.IsNullOrEmpty(MainPath))
        {
            MainPath = source;
        }

        if (model.TryGetValue("unqualified-search-registries", out var usr) && usr is TomlArray arr)
        {
            UnqualifiedSearchRegistries = [.. arr.OfType<string>()];
            UnqualifiedSearchRegistriesSource = source;
        }

        if (model.TryGetValue("short-name-mode", out var mode) && mode is string m)
        {
            ShortNameMode = m;
        }

        if (model.TryGetValue("aliases", out var aliases) && aliases is TomlTable at)
        {
            foreach (var (k, v) in at)
            {
                if (v is string s)
                {
                    _aliases[k] = new ShortNameAlias(s, source);
                }
            }
        }

        if (model.TryGetValue("registry", out var regs) && regs is TomlTableArray tables)
        {
            foreach (var t in tables)
            {
                string? location = t.TryGetValue("location", out var l) ? l as string : null;
                string? prefix = t.TryGetValue("prefix", out var p) ? p as string : null;
                prefix ??= location;
                if (prefix is null)
                {
                    throw new InvalidDataException($"{source}: a [[registry]] has neither prefix nor location");
                }

                var mirrors = new List<RegistryMirror>();
                if (t.TryGetValue("mirror", out var mt) && mt is TomlTableArray mirrorTables)
                {
                    foreach (var mirror in mirrorTables)
                    {
                        mirrors.Add(new RegistryMirror(
                            mirror.TryGetValue("location", out var ml) ? (string)ml : throw new InvalidDataException($"{source}: a mirror has no location"),
                            mirror.TryGetValue("insecure", out var mi) && mi is true,
                            mirror.TryGetValue("pull-from-mirror", out var pf) && pf is string pfs ? pfs : "all"));
                    }
                }

                _registries[prefix] = new RegistryEntry(
                    prefix,
                    location ?? prefix,
                    t.TryGetValue("insecure", out var ins) && ins is true,
                    t.TryGetValue("blocked", out var b) && b is true,
                    t.TryGetValue("mirror-by-digest-only", out var mbd) && mbd is true,
                    mirrors);
            }
        }
    }

    /// <summary>The entry whose prefix is the longest match of <paramref name="name"/> (<c>host/path</c>, maybe with tag).</summary>
    public RegistryEntry? Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        RegistryEntry? best = null;
        int bestLength = -1;
        string host = name.Split('/')[0];
        foreach (var entry in _registries.Values)
        {
            string prefix = entry.Prefix;
            int length;
            if (prefix.StartsWith("*.", StringComparison.Ordinal))
            {
                if (!host.EndsWith(prefix[1..], StringComparison.Ordinal))
                {
                    continue;
                }

                length = prefix.Length;
            }
            else if (name == prefix || (name.StartsWith(prefix, StringComparison.Ordinal) && name.Length > prefix.Length && name[prefix.Length] is '/' or ':' or '@'))
            {
                length = prefix.Length;
            }
            else
            {
                continue;
            }

            if (length > bestLength)
            {
                best = entry;
                bestLength = length;
            }
        }

        return best;
    }

    /// <summary>Where a pull of <paramref name="name"/> goes: the prefix replaced by the entry's location.</summary>
    public string RewriteForPull(string name)
    {
        var entry = Find(name);
        if (entry is null || entry.Prefix.StartsWith("*.", StringComparison.Ordinal) || entry.Location == entry.Prefix)
        {
            return name;
        }

        return entry.Location + name[entry.Prefix.Length..];
    }

    /// <summary>True when the host (or a name under it) is marked insecure.</summary>
    public bool IsInsecure(string name) => Find(name)?.Insecure ?? false;

    public bool IsBlocked(string name) => Find(name)?.Blocked ?? false;

    /// <summary>For messages: podman names the main file and the user's drop-in directory.</summary>
    public string SourcesDescription => $"{MainPath} or ~/.config/containers/registries.conf.d";
}
