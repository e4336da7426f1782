using System.Globalization;
using System.Text.Json.Nodes;
using Wharf.Content.Layers;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Wharf.Engine.Containers;

/// <summary>
/// Container Device Interface: <c>--device vendor.com/class=name</c> resolved through the specs
/// (JSON or YAML) in /etc/cdi and /var/run/cdi; a later directory overrides an earlier one. Each
/// named device's containerEdits plus the spec's own containerEdits become device nodes (with cgroup
/// allow rules), bind mounts, hooks and environment variables.
/// </summary>
public static class Cdi
{
    public static readonly string[] DefaultSpecDirs = ["/etc/cdi", "/var/run/cdi"];

    /// <summary>
    /// <c>--gpus all|N|count=N|device=ID[,ID...]</c> (docker's flag, podman 5's shorthand) as the CDI
    /// names of NVIDIA's spec: <c>nvidia.com/gpu=all</c>, <c>=0</c>... <c>=N-1</c>, or each ID (index or UUID).
    /// </summary>
    public static IReadOnlyList<string> GpuDevices(string gpus)
    {
        ArgumentNullException.ThrowIfNull(gpus);
        string g = gpus.Trim().Trim('"');
        if (g.StartsWith("count=", StringComparison.Ordinal))
        {
            g = g["count=".Length..];
        }

        if (g == "all")
        {
            return ["nvidia.com/gpu=all"];
        }

        if (int.TryParse(g, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0)
        {
            return [.. Enumerable.Range(0, n).Select(i => "nvidia.com/gpu=" + i.ToString(CultureInfo.InvariantCulture))];
        }

        if (g.StartsWith("device=", StringComparison.Ordinal) && g["device=".Length..].Split(',') is var ids && ids.All(i => i.Length > 0 && !i.Contains('=', StringComparison.Ordinal)))
        {
            return [.. ids.Select(i => "nvidia.com/gpu=" + i)];
        }

        throw new WharfException($"invalid --gpus \"{gpus}\": use all, a count (2) or device=ID[,ID...]");
    }

    public static bool IsCdiName(string device) =>
        device.Contains('=', StringComparison.Ordinal) && device.IndexOf('/', StringComparison.Ordinal) is > 0 and var slash
        && slash < device.IndexOf('=', StringComparison.Ordinal);

    /// <summary>Every spec found, keyed by kind; a later file replaces devices of the same name.</summary>
    public static Dictionary<string, List<JsonObject>> LoadSpecs(IEnumerable<string> dirs)
    {
        ArgumentNullException.ThrowIfNull(dirs);
        var specs = new Dictionary<string, List<JsonObject>>(StringComparer.Ordinal);
        foreach (string dir in dirs.Where(Directory.Exists))
        {
            foreach (string file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
            {
                string ext = Path.GetExtension(file);
                if (ext is not (".json" or ".yaml" or ".yml"))
                {
                    continue;
                }

                JsonObject? spec;
                try
                {
                    string text = File.ReadAllText(file);
                    spec = (ext == ".json" ? JsonNode.Parse(text) : ParseYaml(text)) as JsonObject;
                }
                catch (Exception e) when (e is System.Text.Json.JsonException or YamlDotNet.Core.YamlException)
                {
                    throw new WharfException($"reading CDI spec {file}: {e.Message}", e);
                }

                if (spec?["kind"]?.GetValue<string>() is { } kind)
                {
                    if (!specs.TryGetValue(kind, out var list))
                    {
                        specs[kind] = list = [];
                    }

                    list.Add(spec);
                }
            }
        }

        return specs;
    }

    // The YAML representation model, not the object deserializer: that one binds by reflection and
    // the CLI ships as a NativeAOT binary. Scalars stay strings; a plain empty, ~ or null scalar is null.
    private static JsonNode? ParseYaml(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return stream.Documents.Count == 0 ? null : YamlToJson(stream.Documents[0].RootNode);
    }

    private static JsonNode? YamlToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(kv => KeyValuePair.Create(kv.Key.ToString(), YamlToJson(kv.Value)))),
        YamlSequenceNode list => new JsonArray([.. list.Children.Select(YamlToJson)]),
        YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" or "Null" or "NULL" } => null,
        YamlScalarNode s => JsonValue.Create(s.Value),
        _ => null,
    };

    /// <summary>Applies the CDI devices named in <paramref name="devices"/> to <paramref name="edits"/>.</summary>
    public static void Apply(IReadOnlyList<string> devices, IEnumerable<string> specDirs, DeviceEdits edits)
    {
        ArgumentNullException.ThrowIfNull(devices);
        ArgumentNullException.ThrowIfNull(edits);
        var dirs = specDirs.ToList();
        var specs = LoadSpecs(dirs);
        var appliedSpecs = new HashSet<JsonObject>();
        var unresolved = new List<string>();
        foreach (string device in devices)
        {
            int eq = device.IndexOf('=', StringComparison.Ordinal);
            string kind = device[..eq], name = device[(eq + 1)..];
            JsonObject? owner = null;
            JsonObject? found = null;
            foreach (var spec in specs.GetValueOrDefault(kind) ?? [])
            {
                foreach (var d in spec["devices"] as JsonArray ?? [])
                {
                    if (d?["name"]?.GetValue<string>() == name)
                    {
                        (owner, found) = (spec, (JsonObject)d);
                    }
                }
            }

            if (found is null || owner is null)
            {
                unresolved.Add(device);
                continue;
            }

            ApplyEdits(found["containerEdits"] as JsonObject, edits);
            if (appliedSpecs.Add(owner))
            {
                ApplyEdits(owner["containerEdits"] as JsonObject, edits);
            }
        }

        if (unresolved.Count > 0)
        {
            // Say where wharf looked: the usual cause is a node where nobody generated the spec.
            string hint = unresolved.Any(d => d.StartsWith("nvidia.com/", StringComparison.Ordinal))
                ? " (an administrator generates it with nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml)"
                : string.Empty;
            throw new WharfException(
                $"setting up CDI devices: unresolvable CDI devices {string.Join(", ", unresolved)}: {string.Join(" and ", dirs)} hold no CDI spec for {(unresolved.Count == 1 ? "it" : "them")}{hint}");
        }
    }

    private static void ApplyEdits(JsonObject? e, DeviceEdits edits)
    {
        if (e is null)
        {
            return;
        }

        foreach (var env in e["env"] as JsonArray ?? [])
        {
            string entry = env!.GetValue<string>();
            string key = entry.Split('=')[0] + "=";
            edits.Env.RemoveAll(x => x.StartsWith(key, StringComparison.Ordinal));
            edits.Env.Add(entry);
        }

        foreach (var n in e["deviceNodes"] as JsonArray ?? [])
        {
            string path = n!["path"]!.GetValue<string>();
            string host = n["hostPath"]?.GetValue<string>() ?? path;
            var node = HostDevice(host, path, n["permissions"]?.GetValue<string>() ?? "rwm");
            node = node with
            {
                Type = n["type"]?.GetValue<string>() ?? node.Type,
                Major = Num(n["major"]) ?? node.Major,
                Minor = Num(n["minor"]) ?? node.Minor,
                FileMode = (uint)(Num(n["fileMode"]) ?? node.FileMode),
                Uid = (uint)(Num(n["uid"]) ?? node.Uid),
                Gid = (uint)(Num(n["gid"]) ?? node.Gid),
            };
            edits.Nodes.RemoveAll(x => x.ContainerPath == node.ContainerPath);
            edits.Nodes.Add(node);
        }

        foreach (var m in e["mounts"] as JsonArray ?? [])
        {
            var options = (m!["options"] as JsonArray ?? []).Select(o => o!.GetValue<string>()).ToList();
            if (options.Count == 0)
            {
                options = ["bind"];
            }

            edits.Mounts.Add((m["hostPath"]!.GetValue<string>(), m["containerPath"]!.GetValue<string>(), m["type"]?.GetValue<string>() ?? "bind", options));
        }

        foreach (var h in e["hooks"] as JsonArray ?? [])
        {
            edits.Hooks.Add(new RuntimeHook(
                h!["hookName"]!.GetValue<string>(),
                h["path"]!.GetValue<string>(),
                [.. (h["args"] as JsonArray ?? []).Select(a => a!.GetValue<string>())],
                [.. (h["env"] as JsonArray ?? []).Select(a => a!.GetValue<string>())],
                (int?)Num(h["timeout"])));
        }
    }

    private static long? Num(JsonNode? n)
    {
        if (n is not JsonValue v)
        {
            return null;
        }

        if (v.TryGetValue(out long l))
        {
            return l;
        }

        string s = v.ToString();
        return s.StartsWith("0o", StringComparison.Ordinal) || (s.Length > 1 && s.StartsWith('0'))
            ? Convert.ToInt64(s.TrimStart('0', 'o').PadLeft(1, '0'), 8)
            : long.Parse(s, CultureInfo.InvariantCulture);
    }

    /// <summary>A host device node as the container gets it: type, numbers, mode and owner from the host.</summary>
    public static DeviceNode HostDevice(string hostPath, string containerPath, string permissions)
    {
        var st = FileStatus.LStat(hostPath) ?? throw new WharfException($"stat {hostPath}: no such file or directory");
        uint fmt = st.Mode & ContainerNative.S_IFMT;
        string type = fmt switch
        {
            ContainerNative.S_IFCHR => "c",
            ContainerNative.S_IFBLK => "b",
            ContainerNative.S_IFIFO => "p",
            _ => throw new WharfException($"{hostPath} is not a device node"),
        };
        return new DeviceNode(containerPath, hostPath, type, st.RdevMajor, st.RdevMinor, st.Mode & 0xFFFu, st.Uid, st.Gid, permissions);
    }
}
