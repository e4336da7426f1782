namespace Wharf.Client;

/// <summary>
/// The process environment as the configuration readers see it, so tests can give each case its
/// own variables, home directory and user id instead of touching the real ones.
/// </summary>
public sealed class HostEnvironment
{
    private readonly Func<string, string?> _variables;

    public HostEnvironment(Func<string, string?> variables, string home, int uid, string systemConfigDirectory = "/etc/containers")
    {
        _variables = variables;
        Home = home;
        Uid = uid;
        SystemConfigDirectory = systemConfigDirectory;
    }

    /// <summary>
    /// This process's environment. <c>WHARF_CONTAINERS_CONF_DIR</c> stands in for
    /// <c>/etc/containers</c> as a whole (registries.conf and its drop-ins, storage.conf, wharf.conf,
    /// certs.d): podman has one variable per file (<c>CONTAINERS_REGISTRIES_CONF</c>,
    /// <c>CONTAINERS_STORAGE_CONF</c>, still honoured first) but none for the directory, which an
    /// admin trying a configuration, or a test, needs without touching the machine's own.
    /// </summary>
    public static HostEnvironment Current { get; } = new(
        Environment.GetEnvironmentVariable,
        Environment.GetFolderPath(Environment.SpecialFolder.UserProfile),
        OperatingSystem.IsWindows() ? 0 : RootlessUid() ?? (int)GetUid(),
        Environment.GetEnvironmentVariable(SystemConfigDirectoryVariable) is { Length: > 0 } dir ? Path.GetFullPath(dir) : "/etc/containers");

    /// <summary>The variable that replaces <c>/etc/containers</c> (see <see cref="Current"/>).</summary>
    public const string SystemConfigDirectoryVariable = "WHARF_CONTAINERS_CONF_DIR";

    public string Home { get; }

    public int Uid { get; }

    public bool IsRoot => Uid == 0;

    /// <summary>Where registries.conf and storage.conf live for the system (<c>/etc/containers</c>).</summary>
    public string SystemConfigDirectory { get; }

    public string? Get(string name)
    {
        string? v = _variables(name);
        return string.IsNullOrEmpty(v) ? null : v;
    }

    /// <summary><c>$XDG_CONFIG_HOME</c>, else <c>~/.config</c>.</summary>
    public string ConfigHome => Get("XDG_CONFIG_HOME") ?? Path.Combine(Home, ".config");

    /// <summary>
    /// Inside wharf's rootless user namespace the process is root, but paths and defaults are the
    /// user's: the entering wharf hands the host UID down in <c>_WHARF_ROOTLESS_UID</c>.
    /// </summary>
    private static int? RootlessUid() =>
        int.TryParse(Environment.GetEnvironmentVariable("_WHARF_ROOTLESS_UID"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int uid)
        && GetUid() == 0 && uid != 0 && !Content.HostIdentity.InInitialNamespace()
            ? uid
            : null;

    private static uint GetUid()
    {
        // /proc/self/status "Uid:\treal\teffective…"; avoids P/Invoke for one number.
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                {
                    var parts = line[4..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                    return uint.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }
}
