using Tomlyn;
using Tomlyn.Model;
using Wharf.Client;

namespace Wharf.Engine.Storage;

/// <summary>
/// wharf's own settings, kept out of podman's files so podman never meets a key it cannot decode.
/// The file is <c>$WHARF_CONF</c>; else for a non-root user <c>$XDG_CONFIG_HOME/containers/wharf.conf</c>
/// (or <c>~/.config/…</c>) when it exists, which replaces the system file; else
/// <c>/etc/containers/wharf.conf</c>. TOML:
/// <code>
/// [storage]
/// quota = "50GB"
/// </code>
/// </summary>
public sealed record WharfConf(string File, string? Quota)
{
    /// <summary>The file wharf reads (which may not exist), chosen as the type comment says.</summary>
    public static string Path(HostEnvironment env)
    {
        ArgumentNullException.ThrowIfNull(env);
        if (env.Get("WHARF_CONF") is { } explicitFile)
        {
            return explicitFile;
        }

        string user = System.IO.Path.Combine(env.ConfigHome, "containers", "wharf.conf");
        return !env.IsRoot && System.IO.File.Exists(user) ? user : System.IO.Path.Combine(env.SystemConfigDirectory, "wharf.conf");
    }

    /// <summary>The file's settings; null when it does not exist. A file that is not TOML is an error naming it.</summary>
    public static WharfConf? Load(HostEnvironment env)
    {
        string file = Path(env);
        if (!System.IO.File.Exists(file))
        {
            return null;
        }

        TomlTable model;
        try
        {
            model = TomlSerializer.Deserialize(System.IO.File.ReadAllText(file), Wharf.Client.Config.TomlModelContext.Default.TomlTable) ?? [];
        }
        catch (TomlException e)
        {
            throw new WharfException($"loading wharf configuration \"{file}\": {e.Message}", e);
        }

        string? quota = null;
        if (model.TryGetValue("storage", out var s) && s is TomlTable storage && storage.TryGetValue("quota", out var q))
        {
            quota = q as string ?? throw new WharfException($"loading wharf configuration \"{file}\": quota in [storage] must be a string such as \"50GB\"");
        }

        return new WharfConf(file, quota);
    }
}
