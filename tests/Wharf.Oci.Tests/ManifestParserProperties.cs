using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Wharf.Oci.Tests;

/// <summary>
/// Bounded property tests of the manifest parser the registry's manifest PUT uses: whatever the
/// bytes (a valid manifest mutated, truncated or wrapped in deep nesting, random JSON built from the
/// manifest vocabulary with huge numbers and odd escapes, random bytes), it either returns a
/// manifest of a type the registry accepts or throws its documented <see cref="OciException"/>
/// (MANIFEST_INVALID) — never anything else, which the registry would answer with a 500.
/// </summary>
public sealed class ManifestParserProperties
{
    private const int Cases = 200;

    private const string ConfigDigest = "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7";
    private const string LayerDigest = "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0";
    private const string ChildDigest = "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f";

    private static readonly string[] ValidManifests =
    [
        $$$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{{ConfigDigest}}}","size":7023},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{{LayerDigest}}}","size":32654,"annotations":{"org.opencontainers.image.title":"l"}}],"annotations":{"k":"v"}}""",
        $$$"""{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1469,"digest":"{{{ConfigDigest}}}"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":3370706,"digest":"{{{LayerDigest}}}"}]}""",
        $$$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7143,"digest":"{{{ChildDigest}}}","platform":{"architecture":"arm64","os":"linux","variant":"v8","os.version":"6.1"}}]}""",
        $$$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.sbom.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{{{ChildDigest}}}","size":7682}}""",
    ];

    private static readonly string?[] ContentTypes =
    [
        null, "", MediaTypes.OciManifest, MediaTypes.OciIndex, MediaTypes.DockerManifest, MediaTypes.DockerManifestList,
        MediaTypes.DockerSchema1, "application/json", MediaTypes.OciManifest + "; charset=utf-8", ";", "  ",
    ];

    private static readonly string[] Keys =
    [
        "schemaVersion", "mediaType", "config", "layers", "manifests", "subject", "artifactType", "annotations",
        "digest", "size", "platform", "architecture", "os", "variant", "os.version", "urls", "data", "x",
        "\\ud800", "k\\udc00", "\\u006dediaType", "",
    ];

    private static readonly string[] Scalars =
    [
        "2", "1", "0", "-1", "2.0", "1e400", "-1e400", "99999999999999999999999999", "9223372036854775808", "-0",
        "2147483648", "true", "false", "null", "\"\"", $"\"{LayerDigest}\"", "\"sha256:\"", "\"sha256:zz\"",
        "\"sha512:abc\"", "\"md5:" + new string('a', 32) + "\"", $"\"{MediaTypes.OciManifest}\"", $"\"{MediaTypes.OciIndex}\"",
        $"\"{MediaTypes.DockerManifest}\"", $"\"{MediaTypes.OciLayerGzip}\"", "\"a/b\"", "\"/\"", "\"a//b\"",
    ];

    // Strings that are JSON but awkward to read back: unpaired surrogate escapes, NUL, invalid escapes.
    private static readonly string[] OddStrings =
    [
        "\"\\ud800\"", "\"\\udc00x\"", "\"\\ud83d\\ude00\"", "\"\\u0000\"", "\"\\uZZZZ\"", "\"\\\"", "\"caf\u00e9\"",
        "\"a\\/b\"", "\"\\ud800\\ud800\"",
    ];

    private static readonly Gen<string> Values = Gen.Frequency((3, Gen.Elements(Scalars)), (1, Gen.Elements(OddStrings)));

    [Property(MaxTest = Cases)]
    public Property Parse_MutatedValidManifest_ReturnsOrThrowsOciException() =>
        Prop.ForAll(Arb.From(MutatedManifests()), input => ParsesOrRefuses(input.Body, input.ContentType));

    [Property(MaxTest = Cases)]
    public Property Parse_ValidManifestWithOneValueOrKeyReplaced_ReturnsOrThrowsOciException() =>
        Prop.ForAll(Arb.From(OneReplacement()), input => ParsesOrRefuses(input.Body, input.ContentType));

    [Property(MaxTest = Cases)]
    public Property Parse_RandomJson_ReturnsOrThrowsOciException() =>
        Prop.ForAll(Arb.From(RandomJsonDocuments()), input => ParsesOrRefuses(input.Body, input.ContentType));

    [Property(MaxTest = Cases)]
    public Property Parse_TruncatedManifest_ReturnsOrThrowsOciException() =>
        Prop.ForAll(Arb.From(TruncatedManifests()), input => ParsesOrRefuses(input.Body, input.ContentType));

    [Property(MaxTest = Cases)]
    public Property Parse_DeepNesting_ThrowsOciException() =>
        Prop.ForAll(Arb.From(DeeplyNested()), input => ParsesOrRefuses(input.Body, input.ContentType));

    [Property(MaxTest = Cases)]
    public Property Parse_RandomBytes_ReturnsOrThrowsOciException() =>
        Prop.ForAll(
            Arb.From(from bytes in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b))
                     from type in Gen.Elements(ContentTypes)
                     select new Input(bytes, type)),
            input => ParsesOrRefuses(input.Body, input.ContentType));

    // Found by the properties above: an escaped lone surrogate read as a string threw
    // InvalidOperationException, which the registry answered with a 500.
    [Theory]
    [InlineData("""{"schemaVersion":2,"mediaType":"\ud800"}""")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7","size":1},"annotations":{"k":"\udc00"}}""")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7","size":1},"annotations":{"\ud800":"v"}}""")]
    public void Parse_UnpairedSurrogateEscape_ThrowsManifestInvalid(string json)
    {
        var e = Assert.Throws<OciException>(() => ManifestParser.Parse(Encoding.UTF8.GetBytes(json), null));
        Assert.Equal(OciErrorCode.ManifestInvalid, e.Code);
    }

    [Fact]
    public void Parse_ValidSeeds_Parse()
    {
        // The mutations start from manifests the parser accepts, or they would test nothing.
        foreach (string manifest in ValidManifests)
        {
            Assert.True(MediaTypes.IsManifest(ManifestParser.Parse(Encoding.UTF8.GetBytes(manifest), null).MediaType));
        }
    }

    /// <summary>The property: a manifest of an accepted type with parseable digests, or MANIFEST_INVALID; any other exception fails.</summary>
    private static bool ParsesOrRefuses(byte[] body, string? contentType)
    {
        ParsedManifest parsed;
        try
        {
            parsed = ManifestParser.Parse(body, contentType);
        }
        catch (OciException e) when (e.Code == OciErrorCode.ManifestInvalid)
        {
            return true;
        }

        return MediaTypes.IsManifest(parsed.MediaType)
            && parsed.Blobs.Concat(parsed.Manifests).All(d => Digest.TryParse(d.Digest.ToString(), out _, out _) && d.Size >= 0)
            && (parsed.Subject is null || Digest.TryParse(parsed.Subject.Digest.ToString(), out _, out _));
    }

    public sealed record Input(byte[] Body, string? ContentType)
    {
        // What a failing case prints: the body as text (it is mostly JSON) and the Content-Type.
        public override string ToString() => $"{Encoding.UTF8.GetString(Body)} (Content-Type: {ContentType ?? "none"})";
    }

    private enum Mutation
    {
        ReplaceKey,
        Flip,
        Delete,
        Insert,
        Duplicate,
        Replace,
    }

    private static Gen<Input> MutatedManifests() =>
        from seed in Gen.Elements(ValidManifests)
        from edits in Gen.Choose(1, 6).SelectMany(n => Gen.ListOf(
            from kind in Gen.Elements(Enum.GetValues<Mutation>())
            from position in Gen.Choose(0, int.MaxValue)
            from length in Gen.Choose(1, 24)
            from value in Gen.Choose(0, 255)
            from text in Values
            select (kind, position, length, value, text), n))
        from type in Gen.Elements(ContentTypes)
        select new Input(Mutate(Encoding.UTF8.GetBytes(seed), edits), type);

    private static byte[] Mutate(byte[] body, IEnumerable<(Mutation Kind, int Position, int Length, int Value, string Text)> edits)
    {
        var bytes = new List<byte>(body);
        foreach (var (kind, position, length, value, text) in edits)
        {
            int at = bytes.Count == 0 ? 0 : position % bytes.Count;
            int span = Math.Min(length, bytes.Count - at);
            switch (kind)
            {
                case Mutation.Flip when bytes.Count > 0:
                    bytes[at] ^= (byte)(1 << (value % 8));
                    break;
                case Mutation.Delete:
                    bytes.RemoveRange(at, span);
                    break;
                case Mutation.Insert:
                    bytes.Insert(at, (byte)value);
                    break;
                case Mutation.Duplicate:
                    bytes.InsertRange(at, bytes.GetRange(at, span));
                    break;
                case Mutation.ReplaceKey:
                    // Another name for the next member: "key": becomes "<text>":
                    int close = bytes.IndexOf((byte)':', at) - 1;
                    int open = close > 0 ? bytes.LastIndexOf((byte)'"', close - 1) : -1;
                    if (open >= 0 && bytes[close] == (byte)'"')
                    {
                        bytes.RemoveRange(open + 1, close - open - 1);
                        bytes.InsertRange(open + 1, Encoding.UTF8.GetBytes(Keys[value % Keys.Length]));
                    }

                    break;
                case Mutation.Replace:
                    // A JSON value where some value was: the mutations that keep the document JSON.
                    int colon = bytes.IndexOf((byte)':', at);
                    if (colon >= 0)
                    {
                        int end = colon + 1;
                        while (end < bytes.Count && bytes[end] is not ((byte)',' or (byte)'}' or (byte)']'))
                        {
                            end++;
                        }

                        bytes.RemoveRange(colon + 1, end - colon - 1);
                        bytes.InsertRange(colon + 1, Encoding.UTF8.GetBytes(text));
                    }

                    break;
            }
        }

        return [.. bytes];
    }

    /// <summary>One value or member name changed: the document stays JSON, so the checks past the syntax run.</summary>
    private static Gen<Input> OneReplacement() =>
        from seed in Gen.Elements(ValidManifests)
        from kind in Gen.Elements(Mutation.Replace, Mutation.ReplaceKey)
        from position in Gen.Choose(0, int.MaxValue)
        from value in Gen.Choose(0, 255)
        from text in Values
        from type in Gen.Elements(ContentTypes)
        select new Input(Mutate(Encoding.UTF8.GetBytes(seed), [(kind, position, 1, value, text)]), type);

    private static Gen<Input> TruncatedManifests() =>
        from seed in Gen.Elements(ValidManifests)
        from cut in Gen.Choose(0, int.MaxValue)
        from type in Gen.Elements(ContentTypes)
        let bytes = Encoding.UTF8.GetBytes(seed)
        select new Input(bytes[..(cut % bytes.Length)], type);

    private static Gen<Input> DeeplyNested() =>
        from depth in Gen.Choose(1, 5000)
        from opener in Gen.Elements("[", "{\"config\":", "{\"manifests\":[", "{\"schemaVersion\":2,\"annotations\":")
        from closed in Gen.Elements(true, false)
        from type in Gen.Elements(ContentTypes)
        select new Input(Encoding.UTF8.GetBytes(Nest(depth, opener, closed)), type);

    private static string Nest(int depth, string opener, bool closed)
    {
        var text = new StringBuilder();
        for (int i = 0; i < depth; i++)
        {
            text.Append(opener);
        }

        text.Append("{}");
        if (closed)
        {
            string closer = new string(opener.Where(c => c is '[' or '{').Reverse().Select(c => c == '[' ? ']' : '}').ToArray());
            for (int i = 0; i < depth; i++)
            {
                text.Append(closer);
            }
        }

        return text.ToString();
    }

    private static Gen<Input> RandomJsonDocuments() =>
        from json in JsonValue(4)
        from schema in Gen.Elements(true, false)
        from type in Gen.Elements(ContentTypes)
        select new Input(Encoding.UTF8.GetBytes(schema && json.StartsWith('{') && json.Length > 2 ? "{\"schemaVersion\":2," + json[1..] : json), type);

    /// <summary>JSON text from the manifest vocabulary: objects with manifest keys (repeated at times), arrays and the odd scalars.</summary>
    private static Gen<string> JsonValue(int depth)
    {
        var scalar = Values;
        if (depth == 0)
        {
            return scalar;
        }

        var member = from key in Gen.Elements(Keys)
                     from value in JsonValue(depth - 1)
                     select $"\"{key}\":{value}";
        var obj = Gen.Choose(0, 5).SelectMany(n => Gen.ListOf(member, n)).Select(members => "{" + string.Join(',', members) + "}");
        var array = Gen.Choose(0, 4).SelectMany(n => Gen.ListOf(JsonValue(depth - 1), n)).Select(items => "[" + string.Join(',', items) + "]");
        return Gen.Frequency((2, scalar), (5, obj), (2, array));
    }
}
