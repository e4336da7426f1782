namespace Wharf.Engine.Containers;

/// <summary>
/// podman's <c>--mount type=bind|volume|tmpfs,src=…,dst=…[,options]</c>, read into what <c>-v</c> and
/// <c>--tmpfs</c> already give: a bind (a named volume is its data directory) or a tmpfs spec.
/// Keys: src/source, dst/target/destination, ro/readonly[=true|false], bind-propagation,
/// bind-nonrecursive, relabel, tmpfs-size, tmpfs-mode; anything else is refused as podman does.
/// </summary>
public sealed record MountOption(string Type, string? Source, string Destination, bool ReadOnly, string? Propagation, IReadOnlyList<string> TmpfsOptions)
{
    private static readonly string[] Propagations = ["shared", "rshared", "slave", "rslave", "private", "rprivate"];

    public static MountOption Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        string? type = null, source = null, destination = null, propagation = null;
        bool readOnly = false;
        var tmpfs = new List<string>();
        foreach (string field in value.Split(','))
        {
            string[] kv = field.Split('=', 2);
            string key = kv[0], v = kv.Length > 1 ? kv[1] : string.Empty;
            switch (key)
            {
                case "type":
                    type = v;
                    break;
                case "src" or "source":
                    source = v;
                    break;
                case "dst" or "target" or "destination":
                    destination = v;
                    break;
                case "ro" or "readonly":
                    readOnly = kv.Length == 1 || v switch
                    {
                        "true" => true,
                        "false" => false,
                        _ => throw new WharfException($"invalid value for {key}: \"{v}\": must be true or false"),
                    };
                    break;
                case "rw" or "readwrite":
                    readOnly = kv.Length > 1 && v == "false";
                    break;
                case "bind-propagation" when Propagations.Contains(v):
                    propagation = v;
                    break;
                case "bind-propagation":
                    throw new WharfException($"invalid mount option bind-propagation={v}: use one of {string.Join(", ", Propagations)}");
                case "bind-nonrecursive" or "relabel" or "z" or "Z":
                    break;
                case "tmpfs-size":
                    tmpfs.Add("size=" + v);
                    break;
                case "tmpfs-mode":
                    tmpfs.Add("mode=" + v);
                    break;
                default:
                    throw new WharfException($"{key}: invalid mount option");
            }
        }

        if (type is null)
        {
            throw new WharfException("incorrect mount format: should be --mount type=<bind|tmpfs|volume>,[src=<host-dir|volume-name>,]target=<ctr-dir>[,options]");
        }

        if (type is not ("bind" or "volume" or "tmpfs"))
        {
            throw new WharfException($"invalid filesystem type \"{type}\"");
        }

        if (string.IsNullOrEmpty(destination))
        {
            throw new WharfException("must set volume destination");
        }

        if (!destination.StartsWith('/'))
        {
            throw new WharfException($"invalid container path \"{destination}\", must be an absolute path");
        }

        if (type == "bind" && string.IsNullOrEmpty(source))
        {
            throw new WharfException("must set source for a bind mount");
        }

        if (type == "tmpfs" && source is not null)
        {
            throw new WharfException("src: invalid mount option for tmpfs");
        }

        if (type != "tmpfs" && tmpfs.Count > 0)
        {
            throw new WharfException($"{tmpfs[0].Split('=')[0].Replace("size", "tmpfs-size", StringComparison.Ordinal).Replace("mode", "tmpfs-mode", StringComparison.Ordinal)}: invalid mount option for {type}");
        }

        return new MountOption(type, source, destination, readOnly, propagation, tmpfs);
    }

    /// <summary>The <c>--tmpfs</c> form of a tmpfs mount: podman's rw,nosuid,nodev plus size and mode.</summary>
    public string TmpfsSpec() => Destination + ":" + string.Join(',', new[] { ReadOnly ? "ro" : "rw", "nosuid", "nodev" }.Concat(TmpfsOptions));
}
