using System.Text.Json;
using System.Text.Unicode;

namespace Wharf.Oci;

/// <summary>What a registry needs to know of a manifest it stores: its type and what it refers to.</summary>
public sealed record ParsedManifest
{
    public required string MediaType { get; init; }

    /// <summary>artifactType, else the config's media type for an image manifest (distribution spec, referrers).</summary>
    public string? ArtifactType { get; init; }

    public Descriptor? Config { get; init; }

    public IReadOnlyList<Descriptor> Layers { get; init; } = [];

    /// <summary>Child manifests of an index.</summary>
    public IReadOnlyList<Descriptor> Manifests { get; init; } = [];

    public Descriptor? Subject { get; init; }

    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    public bool IsIndex => MediaTypes.IsIndex(MediaType);

    /// <summary>Every blob (config and layers) the manifest needs in its repository.</summary>
    public IEnumerable<Descriptor> Blobs => Config is null ? Layers : Layers.Prepend(Config);
}

/// <summary>
/// Validates a manifest body against its declared media type (distribution spec, "Pushing
/// Manifests"; image-spec manifest.md and image-index.md) without re-serialising it.
/// </summary>
public static class ManifestParser
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 64 };

    public static ParsedManifest Parse(ReadOnlySpan<byte> body, string? contentType)
    {
        if (body.Length > MediaTypes.MaxManifestBytes)
        {
            throw Invalid($"manifest is larger than {MediaTypes.MaxManifestBytes} bytes");
        }

        // RFC 8259 §8.1: JSON exchanged between systems is UTF-8. The reader does not check the
        // bytes inside strings, and reading such a string later would fail as a server error.
        if (!Utf8.IsValid(body))
        {
            throw Invalid("manifest is not valid JSON: it is not valid UTF-8");
        }

        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = Options.MaxDepth });
        JsonDocument doc;
        try
        {
            doc = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e)
        {
            throw Invalid($"manifest is not valid JSON: {e.Message}");
        }

        // RFC 8259 §2: a JSON text is one value. ParseValue stops after the first value, so read
        // on: whitespace ends the text; another token, or garbage (the reader throws), is refused.
        string? trailing;
        try
        {
            trailing = reader.Read() ? $"unexpected {reader.TokenType} after the manifest object" : null;
        }
        catch (JsonException e)
        {
            trailing = e.Message;
        }

        // An escaped surrogate without its pair ("\ud800") is well-formed JSON, but no string
        // holds it: reading it later would throw InvalidOperationException, a server error.
        trailing ??= UnpairedSurrogate(body);
        if (trailing is not null)
        {
            doc.Dispose();
            throw Invalid($"manifest is not valid JSON: {trailing}");
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Invalid("manifest must be a JSON object");
            }

            string? declared = NormalizeContentType(contentType);
            string? bodyType = OptionalString(root, "mediaType");

            if (!root.TryGetProperty("schemaVersion", out var sv) || sv.ValueKind != JsonValueKind.Number || !sv.TryGetInt32(out int schemaVersion))
            {
                throw Invalid("manifest has no numeric schemaVersion");
            }

            if (schemaVersion == 1 || MediaTypes.IsSchema1(declared) || MediaTypes.IsSchema1(bodyType))
            {
                throw Invalid("Docker schema1 manifests are deprecated and not supported; push a schema2 or OCI manifest");
            }

            if (schemaVersion != 2)
            {
                throw Invalid($"schemaVersion {schemaVersion} is not supported (want 2)");
            }

            if (bodyType is not null && declared is not null && MediaTypes.IsManifest(declared) && bodyType != declared)
            {
                throw Invalid($"manifest mediaType \"{bodyType}\" does not match Content-Type \"{declared}\"");
            }

            string mediaType = bodyType
                ?? (declared is not null && MediaTypes.IsManifest(declared) ? declared : null)
                ?? (root.TryGetProperty("manifests", out _) ? MediaTypes.OciIndex
                    : root.TryGetProperty("config", out _) ? MediaTypes.OciManifest
                    : throw Invalid("cannot tell the manifest's media type: no mediaType, no recognised Content-Type"));

            if (!MediaTypes.IsManifest(mediaType))
            {
                throw Invalid($"media type \"{mediaType}\" is not a manifest type this registry accepts");
            }

            string? artifactType = OptionalString(root, "artifactType");
            var subject = root.TryGetProperty("subject", out var subj) && subj.ValueKind != JsonValueKind.Null
                ? ReadDescriptor(subj, "subject") : null;
            var annotations = ReadAnnotations(root, "annotations");

            if (MediaTypes.IsIndex(mediaType))
            {
                if (root.TryGetProperty("config", out _) || root.TryGetProperty("layers", out _))
                {
                    throw Invalid("an index must not have config or layers");
                }

                var manifests = ReadDescriptorArray(root, "manifests", required: true);
                foreach (var m in manifests)
                {
                    if (!MediaTypes.IsManifest(m.MediaType) && m.MediaType.Length == 0)
                    {
                        throw Invalid("index entry has no mediaType");
                    }
                }

                return new ParsedManifest
                {
                    MediaType = mediaType,
                    ArtifactType = artifactType,
                    Manifests = manifests,
                    Subject = subject,
                    Annotations = annotations,
                };
            }

            if (root.TryGetProperty("manifests", out _))
            {
                throw Invalid("an image manifest must not have manifests");
            }

            if (!root.TryGetProperty("config", out var configEl) || configEl.ValueKind != JsonValueKind.Object)
            {
                throw Invalid("image manifest has no config descriptor");
            }

            var config = ReadDescriptor(configEl, "config");
            var layers = ReadDescriptorArray(root, "layers", required: mediaType == MediaTypes.DockerManifest);
            if (mediaType == MediaTypes.DockerManifest && artifactType is not null)
            {
                throw Invalid("artifactType is not allowed in a Docker schema2 manifest");
            }

            return new ParsedManifest
            {
                MediaType = mediaType,
                ArtifactType = artifactType ?? config.MediaType,
                Config = config,
                Layers = layers,
                Subject = subject,
                Annotations = annotations,
            };
        }
    }

    /// <summary>The reader's complaint about the first escaped string or name that is not valid UTF-16, else null.</summary>
    private static string? UnpairedSurrogate(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = Options.MaxDepth });
        while (reader.Read())
        {
            if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
            {
                try
                {
                    _ = reader.GetString();
                }
                catch (InvalidOperationException e)
                {
                    return e.Message;
                }
            }
        }

        return null;
    }

    /// <summary>Strips parameters (<c>; charset=…</c>) and blanks.</summary>
    public static string? NormalizeContentType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType))
        {
            return null;
        }

        int semi = contentType.IndexOf(';', StringComparison.Ordinal);
        return (semi >= 0 ? contentType[..semi] : contentType).Trim();
    }

    private static List<Descriptor> ReadDescriptorArray(JsonElement root, string name, bool required)
    {
        if (!root.TryGetProperty(name, out var arr) || arr.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                throw Invalid($"manifest has no \"{name}\" array");
            }

            return [];
        }

        if (arr.ValueKind != JsonValueKind.Array)
        {
            throw Invalid($"\"{name}\" must be an array");
        }

        var list = new List<Descriptor>(arr.GetArrayLength());
        int i = 0;
        foreach (var el in arr.EnumerateArray())
        {
            list.Add(ReadDescriptor(el, $"{name}[{i++}]"));
        }

        return list;
    }

    private static Descriptor ReadDescriptor(JsonElement el, string where)
    {
        if (el.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"{where} must be a descriptor object");
        }

        string mediaType = OptionalString(el, "mediaType") ?? throw Invalid($"{where} has no mediaType");
        if (!IsMediaTypeShaped(mediaType))
        {
            throw Invalid($"{where} mediaType \"{mediaType}\" is not of the form type/subtype");
        }

        string digestText = OptionalString(el, "digest") ?? throw Invalid($"{where} has no digest");
        if (!Digest.TryParse(digestText, out var digest, out var derr))
        {
            throw Invalid($"{where}: {derr}");
        }

        if (!el.TryGetProperty("size", out var sizeEl) || sizeEl.ValueKind != JsonValueKind.Number || !sizeEl.TryGetInt64(out long size) || size < 0)
        {
            throw Invalid($"{where} has no valid size");
        }

        Platform? platform = null;
        if (el.TryGetProperty("platform", out var p) && p.ValueKind == JsonValueKind.Object)
        {
            platform = new Platform
            {
                Architecture = OptionalString(p, "architecture") ?? throw Invalid($"{where}.platform has no architecture"),
                Os = OptionalString(p, "os") ?? throw Invalid($"{where}.platform has no os"),
                Variant = OptionalString(p, "variant"),
                OsVersion = OptionalString(p, "os.version"),
            };
        }

        return new Descriptor
        {
            MediaType = mediaType,
            Digest = digest,
            Size = size,
            Platform = platform,
            ArtifactType = OptionalString(el, "artifactType"),
            Annotations = ReadAnnotations(el, "annotations"),
        };
    }

    private static Dictionary<string, string>? ReadAnnotations(JsonElement el, string name)
    {
        if (!el.TryGetProperty(name, out var a) || a.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (a.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"{name} must be an object of strings");
        }

        var dict = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var prop in a.EnumerateObject())
        {
            if (prop.Value.ValueKind != JsonValueKind.String)
            {
                throw Invalid($"annotation \"{prop.Name}\" must be a string");
            }

            dict[prop.Name] = prop.Value.GetString()!;
        }

        return dict;
    }

    private static string? OptionalString(JsonElement el, string name)
    {
        if (!el.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.String)
        {
            throw Invalid($"\"{name}\" must be a string");
        }

        return v.GetString();
    }

    // RFC 6838 restricted-name: type "/" subtype, each 1–127 of [A-Za-z0-9!#$&^_.+-], starting alphanumeric.
    private static bool IsMediaTypeShaped(string s)
    {
        int slash = s.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && slash < s.Length - 1 && s.IndexOf('/', slash + 1) < 0
            && IsRestrictedName(s.AsSpan(0, slash)) && IsRestrictedName(s.AsSpan(slash + 1));
    }

    private static bool IsRestrictedName(ReadOnlySpan<char> s)
    {
        if (s.Length is 0 or > 127 || !char.IsAsciiLetterOrDigit(s[0]))
        {
            return false;
        }

        foreach (char c in s)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '!' or '#' or '$' or '&' or '^' or '_' or '.' or '+' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    private static OciException Invalid(string detail) => new(OciErrorCode.ManifestInvalid, detail);
}
