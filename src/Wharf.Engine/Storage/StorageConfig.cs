using Tomlyn;
using Tomlyn.Model;
using Wharf.Client;

namespace Wharf.Engine.Storage;

/// <summary>
/// Where the local store lives, read as containers-storage.conf(5) is read by podman:
/// <c>$CONTAINERS_STORAGE_CONF</c>; else for a non-root user <c>$XDG_CONFIG_HOME/containers/storage.conf</c>
/// (or <c>~/.config/…</c>) when it exists, which replaces the system file entirely; else
/// <c>/etc/containers/storage.conf</c>, then <c>/usr/share/containers/storage.conf</c>.
/// <c>--root</c>/<c>--runroot</c> override what the file says.
/// </summary>
public sealed record StorageConfig(string GraphRoot, string RunRoot, string Driver, string? ConfigFile)
{
    /// <summary>
    /// The per-user limit on the image store in bytes: <c>$WHARF_STORAGE_QUOTA</c>, else <c>quota</c>
    /// in the <c>[storage]</c> table of wharf.conf (<see cref="WharfConf"/>), else, deprecated, the
    /// <c>[storage.options.wharf]</c> table of storage.conf; null when none sets one.
    /// </summary>
    public long? Quota { get; init; }

    /// <summary>Where <see cref="Quota"/> came from, for messages.</summary>
    public string? QuotaSource { get; init; }

    /// <summary>
    /// <c>additionalimagestores</c> in <c>[storage.options]</c>: read-only image stores (shared
    /// directories a publisher fills, docs/shared-store.md), searched after graphroot, in order.
    /// </summary>
    public IReadOnlyList<string> AdditionalImageStores { get; init; } = [];

    /// <summary>Warnings for stderr: configuration wharf still reads but will stop reading.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public static StorageConfig Load(HostEnvironment env, string? rootOverride = null, string? runRootOverride = null)
    {
        ArgumentNullException.ThrowIfNull(env);
        string? file = env.Get("CONTAINERS_STORAGE_CONF");
        if (file is null)
        {
            string user = Path.Combine(env.ConfigHome, "containers", "storage.conf");
            string system = Path.Combine(env.SystemConfigDirectory, "storage.conf");
            file = !env.IsRoot && File.Exists(user) ? user
                : File.Exists(system) ? system
                : "/usr/share/containers/storage.conf";
        }

        string graphRoot, runRoot;
        if (env.IsRoot)
        {
            graphRoot = "/var/lib/containers/storage";
            runRoot = "/run/containers/storage";
        }
        else
        {
            graphRoot = Path.Combine(env.Get("XDG_DATA_HOME") ?? Path.Combine(env.Home, ".local", "share"), "containers", "storage");
            runRoot = Path.Combine(Rootless.UserNamespace.RuntimeDirectory(env.Get, (uint)env.Uid, create: false), "containers");
        }

        string driver = "overlay";
        var warnings = new List<string>();
        string? quotaText = null;
        string? quotaSource = null;
        var additional = new List<string>();
        if (File.Exists(file))
        {
            TomlTable model;
            try
            {
                model = TomlSerializer.Deserialize(File.ReadAllText(file), Wharf.Client.Config.TomlModelContext.Default.TomlTable) ?? [];
            }
            catch (TomlException e)
            {
                throw new WharfException($"loading storage configuration \"{file}\": {e.Message}", e);
            }

            if (model.TryGetValue("storage", out var s) && s is TomlTable storage)
            {
                driver = storage.TryGetValue("driver", out var d) && d is string ds && ds.Length > 0 ? ds : driver;
                if (env.IsRoot)
                {
                    graphRoot = Str(storage, "graphroot") ?? graphRoot;
                }
                else
                {
                    // Rootless: rootless_storage_path, else graphroot when the user's own file set it.
                    graphRoot = Str(storage, "rootless_storage_path") ?? Str(storage, "graphroot") ?? graphRoot;
                }

                runRoot = Str(storage, "runroot") ?? runRoot;
                if (storage.TryGetValue("options", out var ao) && ao is TomlTable aoptions
                    && aoptions.TryGetValue("additionalimagestores", out var a))
                {
                    additional.AddRange(a switch
                    {
                        TomlArray list => list.OfType<string>().Where(x => x.Length > 0),
                        string one when one.Length > 0 => [one],
                        _ => throw new WharfException($"loading storage configuration \"{file}\": additionalimagestores must be a list of directories"),
                    });
                }

                if (storage.TryGetValue("options", out var o) && o is TomlTable options
                    && options.TryGetValue("wharf", out var w) && w is TomlTable wharf && Str(wharf, "quota") is { } q)
                {
                    // podman cannot decode this table and warns about it on every command, so the
                    // quota moved to wharf.conf; the old place is read for one release.
                    (quotaText, quotaSource) = (q, $"quota in [storage.options.wharf] of {file}");
                    warnings.Add($"[storage.options.wharf] in \"{file}\" is deprecated (podman cannot decode it): move quota = \"{q}\" to the [storage] table of \"{WharfConf.Path(env)}\"");
                }
            }
        }

        if (WharfConf.Load(env) is { Quota: { } confQuota, File: var confFile })
        {
            (quotaText, quotaSource) = (confQuota, $"quota in [storage] of {confFile}");
        }

        if (env.Get("WHARF_STORAGE_QUOTA") is { Length: > 0 } fromEnv)
        {
            (quotaText, quotaSource) = (fromEnv, "WHARF_STORAGE_QUOTA");
        }

        long? quota = null;
        if (quotaText is not null)
        {
            if (!ByteSize.TryParse(quotaText, out long parsed))
            {
                throw new WharfException($"invalid image store quota \"{quotaText}\" ({quotaSource}): expected a size such as 50GB or 40GiB");
            }

            quota = parsed;
        }

        graphRoot = Expand(rootOverride ?? graphRoot, env);
        runRoot = Expand(runRootOverride ?? runRoot, env);
        return new StorageConfig(Path.GetFullPath(graphRoot), Path.GetFullPath(runRoot), driver, File.Exists(file) ? file : null)
        {
            Quota = quota,
            QuotaSource = quotaSource,
            Warnings = warnings,
            AdditionalImageStores = [.. additional.Select(d => Path.GetFullPath(Expand(d, env))).Distinct(StringComparer.Ordinal)],
        };
    }

    private static string? Str(TomlTable t, string key) => t.TryGetValue(key, out var v) && v is string s && s.Length > 0 ? s : null;

    /// <summary>$HOME, $UID and $USER, the variables containers-storage expands in paths.</summary>
    private static string Expand(string path, HostEnvironment env) =>
        path.Replace("$HOME", env.Home, StringComparison.Ordinal)
            .Replace("$UID", env.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("$USER", env.Get("USER") ?? string.Empty, StringComparison.Ordinal);
}
