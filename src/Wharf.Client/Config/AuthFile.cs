using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Client.Processes;

namespace Wharf.Client.Config;

public sealed record RegistryCredential(string Username, string Password, string? IdentityToken = null);

/// <summary>
/// containers-auth.json(5), read and written as podman does: the primary file is <c>--authfile</c>
/// (default <c>$REGISTRY_AUTH_FILE</c>), else <c>$XDG_RUNTIME_DIR/containers/auth.json</c>, else
/// <c>/run/containers/&lt;uid&gt;/auth.json</c>; after it, read-only fallbacks
/// <c>$XDG_CONFIG_HOME/containers/auth.json</c>, <c>$DOCKER_CONFIG/config.json</c> (or
/// <c>~/.docker/config.json</c>) and the legacy <c>~/.dockercfg</c>. Written with mode 0600,
/// tab indentation and no trailing newline.
/// </summary>
public sealed class AuthFile
{
    private readonly HostEnvironment _env;

    public AuthFile(HostEnvironment env, string? authFile = null)
    {
        _env = env;
        PrimaryPath = authFile ?? env.Get("REGISTRY_AUTH_FILE") ?? DefaultPrimaryPath(env);
        ExplicitPath = authFile is not null || env.Get("REGISTRY_AUTH_FILE") is not null;
    }

    public string PrimaryPath { get; }

    /// <summary>True when the user named the file; then only that file is read.</summary>
    public bool ExplicitPath { get; }

    public static string DefaultPrimaryPath(HostEnvironment env)
    {
        ArgumentNullException.ThrowIfNull(env);
        if (env.Get("XDG_RUNTIME_DIR") is { } runtime)
        {
            return Path.Combine(runtime, "containers", "auth.json");
        }

        return $"/run/containers/{env.Uid}/auth.json";
    }

    /// <summary>Files read in order, with whether each is the legacy format.</summary>
    public IReadOnlyList<(string Path, bool Legacy)> ReadPaths()
    {
        var paths = new List<(string, bool)> { (PrimaryPath, false) };
        if (ExplicitPath)
        {
            return paths;
        }

        paths.Add((Path.Combine(_env.ConfigHome, "containers", "auth.json"), false));
        paths.Add((_env.Get("DOCKER_CONFIG") is { } dc ? Path.Combine(dc, "config.json") : Path.Combine(_env.Home, ".docker", "config.json"), false));
        paths.Add((Path.Combine(_env.Home, ".dockercfg"), true));
        return paths;
    }

    /// <summary>
    /// Credentials for an image's <c>host/ns/…/repo</c> (or a bare host): the most specific key
    /// wins, then keys normalised (scheme and path stripped, docker.io aliases mapped).
    /// The first file giving a username and password, or an identity token, wins.
    /// </summary>
    public RegistryCredential? Find(string keyOrRepository)
    {
        ArgumentNullException.ThrowIfNull(keyOrRepository);
        string host = keyOrRepository.Split('/')[0];
        foreach (var (path, legacy) in ReadPaths())
        {
            var root = ReadFile(path);
            if (root is null)
            {
                continue;
            }

            // A credential helper named for the registry host answers instead of the file (containers-auth.json(5)).
            if (!legacy && root["credHelpers"] is JsonObject helpers && helpers[host]?.GetValue<string>() is { Length: > 0 } helper)
            {
                return RunHelper(helper, host);
            }

            var auths = legacy ? root : root["auths"] as JsonObject;
            if (auths is not null && FindIn(auths, keyOrRepository) is { } found)
            {
                return found;
            }
        }

        return null;
    }

    /// <summary>
    /// docker-credential-helpers protocol: <c>docker-credential-NAME get</c>, the server on stdin,
    /// <c>{"ServerURL","Username","Secret"}</c> on stdout; a Username of <c>&lt;token&gt;</c> means an identity token.
    /// </summary>
    private RegistryCredential? RunHelper(string helper, string host)
    {
        string program = "docker-credential-" + helper;
        string? path = (_env.Get("PATH") ?? "/usr/local/bin:/usr/bin:/bin").Split(':')
            .Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists)
            ?? throw new InvalidDataException($"getting credentials for {host}: credential helper {program} not found in $PATH");
        ProcessResult result;
        try
        {
            result = ProcessRunner.Run(path, ["get"], new ProcessRunOptions { StandardInput = host, Timeout = TimeSpan.FromSeconds(60) });
        }
        catch (ProcessTimeoutException)
        {
            throw new InvalidDataException($"getting credentials for {host}: {program} did not answer within 60 s");
        }

        string output = result.StandardOutput;
        if (result.ExitCode != 0)
        {
            // "credentials not found in native keychain" is a miss, not a failure.
            return null;
        }

        try
        {
            var answer = JsonNode.Parse(output) as JsonObject;
            string user = answer?["Username"]?.GetValue<string>() ?? string.Empty;
            string secret = answer?["Secret"]?.GetValue<string>() ?? string.Empty;
            return user == "<token>" ? new RegistryCredential(string.Empty, string.Empty, secret)
                : user.Length > 0 ? new RegistryCredential(user, secret) : null;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"getting credentials for {host}: {program} answered invalid JSON: {e.Message}", e);
        }
    }

    /// <summary>Only the primary file, only the exact key: what login/logout act on.</summary>
    public RegistryCredential? FindExact(string key)
    {
        var auths = ReadAuths(PrimaryPath, legacy: false);
        return auths is not null && auths.TryGetPropertyValue(key, out var node) ? Decode(node) : null;
    }

    private static RegistryCredential? FindIn(JsonObject auths, string key)
    {
        for (string? k = key; k is not null; k = Parent(k))
        {
            if (auths.TryGetPropertyValue(k, out var node) && Decode(node) is { } c)
            {
                return c;
            }
        }

        string host = NormalizeKey(key);
        foreach (var (k, node) in auths)
        {
            if (NormalizeKey(k) == host && Decode(node) is { } c)
            {
                return c;
            }
        }

        return null;
    }

    private static string? Parent(string key)
    {
        int slash = key.LastIndexOf('/');
        return slash > 0 ? key[..slash] : null;
    }

    /// <summary>Strips http(s):// and any path; maps docker.io's aliases to index.docker.io.</summary>
    public static string NormalizeKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        string k = key;
        if (k.StartsWith("http://", StringComparison.Ordinal))
        {
            k = k[7..];
        }
        else if (k.StartsWith("https://", StringComparison.Ordinal))
        {
            k = k[8..];
        }

        int slash = k.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            k = k[..slash];
        }

        return k is "docker.io" or "registry-1.docker.io" ? "index.docker.io" : k;
    }

    private static RegistryCredential? Decode(JsonNode? node)
    {
        if (node is not JsonObject entry)
        {
            return null;
        }

        string? token = entry["identitytoken"]?.GetValue<string>();
        string? auth = entry["auth"]?.GetValue<string>();
        string user = string.Empty, password = string.Empty;
        if (!string.IsNullOrEmpty(auth))
        {
            byte[] raw;
            try
            {
                raw = Convert.FromBase64String(auth);
            }
            catch (FormatException)
            {
                return null;
            }

            string text = Encoding.UTF8.GetString(raw);
            int colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                return null;
            }

            user = text[..colon];
            password = text[(colon + 1)..];
        }

        if (string.IsNullOrEmpty(token) && (user.Length == 0 || password.Length == 0))
        {
            return null;
        }

        return new RegistryCredential(user, password, string.IsNullOrEmpty(token) ? null : token);
    }

    private static JsonObject? ReadAuths(string path, bool legacy)
    {
        JsonObject? root = ReadFile(path);
        if (root is null)
        {
            return null;
        }

        return legacy ? root : root["auths"] as JsonObject;
    }

    private static JsonObject? ReadFile(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        string text = File.ReadAllText(path);
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(text) as JsonObject;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"unmarshaling JSON at \"{path}\": {e.Message}", e);
        }
    }

    /// <summary>Stores <c>auth = base64(user:password)</c> under <paramref name="key"/> in the primary file.</summary>
    public void Store(string key, string username, string password)
    {
        Modify(auths =>
        {
            string encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes(username + ":" + password));
            auths[key] = new JsonObject { ["auth"] = encoded };
            return true;
        });
    }

    /// <summary>Removes <paramref name="key"/>; false when it was not there.</summary>
    public bool Remove(string key)
    {
        bool removed = false;
        Modify(auths =>
        {
            removed = auths.Remove(key);
            return removed;
        });
        return removed;
    }

    /// <summary>Empties the auths map (logout --all).</summary>
    public void RemoveAll()
    {
        Modify(auths =>
        {
            auths.Clear();
            return true;
        });
    }

    private void Modify(Func<JsonObject, bool> change)
    {
        var root = ReadFile(PrimaryPath) ?? [];
        if (root["auths"] is not JsonObject auths)
        {
            auths = [];
            root["auths"] = auths;
        }

        if (!change(auths))
        {
            return;
        }

        string? dir = Path.GetDirectoryName(PrimaryPath);
        if (!string.IsNullOrEmpty(dir) && !Directory.Exists(dir))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(dir);
            }
            else
            {
                Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        byte[] bytes = Serialize(Canonical(root));
        string temp = Path.Combine(dir ?? ".", "." + Path.GetFileName(PrimaryPath) + "." + Guid.NewGuid().ToString("N")[..8]);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var fs = new FileStream(temp, options))
        {
            fs.Write(bytes);
            fs.Flush(flushToDisk: true);
        }

        File.Move(temp, PrimaryPath, overwrite: true);
    }

    /// <summary>
    /// The shape podman writes back: its struct has only <c>auths</c> then <c>credHelpers</c>
    /// (omitted when empty), and Go marshals map keys sorted.
    /// </summary>
    private static JsonObject Canonical(JsonObject root)
    {
        var result = new JsonObject();
        var auths = new JsonObject();
        if (root["auths"] is JsonObject a)
        {
            foreach (var (k, v) in a.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                var entry = new JsonObject();
                if (v?["auth"]?.GetValue<string>() is { Length: > 0 } auth)
                {
                    entry["auth"] = auth;
                }

                if (v?["identitytoken"]?.GetValue<string>() is { Length: > 0 } token)
                {
                    entry["identitytoken"] = token;
                }

                auths[k] = entry;
            }
        }

        result["auths"] = auths;
        if (root["credHelpers"] is JsonObject helpers && helpers.Count > 0)
        {
            var sorted = new JsonObject();
            foreach (var (k, v) in helpers.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                sorted[k] = v?.DeepClone();
            }

            result["credHelpers"] = sorted;
        }

        return result;
    }

    /// <summary>Go's json.MarshalIndent(v, "", "\t"): tab indentation, ": " separators, no trailing newline.</summary>
    internal static byte[] Serialize(JsonObject root)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions
        {
            Indented = true,
            IndentCharacter = '\t',
            IndentSize = 1,
            NewLine = "\n",
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            root.WriteTo(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
