using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Wharf.Engine.Events;

/// <summary>
/// One event as podman's file backend records it (libpod/events: <c>Event</c>): one JSON object per
/// line, keys in podman's order, empty ones left out as Go's <c>omitempty</c> leaves them out.
/// </summary>
public sealed record WharfEvent
{
    public const string ContainerType = "container";
    public const string ImageType = "image";
    public const string VolumeType = "volume";
    public const string SystemType = "system";

    public static bool TypeIsKnown(string type) => type is ContainerType or ImageType or VolumeType or SystemType;

    public int ContainerExitCode { get; init; }

    public string? Id { get; init; }

    public string? Image { get; init; }

    public string? Name { get; init; }

    public required string Status { get; init; }

    public required DateTimeOffset Time { get; init; }

    public required string Type { get; init; }

    /// <summary>A container's labels (null for images, as podman writes them).</summary>
    public IReadOnlyDictionary<string, string>? Attributes { get; init; }

    /// <summary>The line the file holds (and <c>events --format json</c> prints).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (ContainerExitCode != 0)
            {
                w.WriteNumber("ContainerExitCode", ContainerExitCode);
            }

            WriteIfAny(w, "ID", Id);
            WriteIfAny(w, "Image", Image);
            WriteIfAny(w, "Name", Name);
            w.WriteString("Status", Status);
            w.WriteString("Time", Rfc3339Nano(Time));
            w.WriteString("Type", Type);
            w.WritePropertyName("Attributes");
            if (Attributes is null)
            {
                w.WriteNullValue();
            }
            else
            {
                w.WriteStartObject();
                foreach (var (k, v) in Attributes.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    w.WriteString(k, v);
                }

                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The event as a template sees it: podman's field names, <c>Time</c> as Go prints a time.</summary>
    public JsonObject ToTemplateData() => new()
    {
        ["ContainerExitCode"] = ContainerExitCode,
        ["ID"] = Id ?? string.Empty,
        ["Image"] = Image ?? string.Empty,
        ["Name"] = Name ?? string.Empty,
        ["Network"] = string.Empty,
        ["Status"] = Status,
        ["Time"] = GoTime(Time),
        ["TimeNano"] = TimeNano(Time),
        ["Type"] = Type,
        ["Attributes"] = Attributes is null ? null : new JsonObject(Attributes.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
    };

    /// <summary>podman's human-readable line (libpod/events <c>ToHumanReadable</c>).</summary>
    public string ToHumanReadable()
    {
        string time = GoTime(Time);
        switch (Type)
        {
            case ContainerType:
                var sb = new StringBuilder($"{time} {Type} {Status} {Id} (image={Image}, name={Name}");
                foreach (var (k, v) in (Attributes ?? new Dictionary<string, string>()).OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    sb.Append(", ").Append(k).Append('=').Append(v);
                }

                return sb.Append(')').ToString();
            case ImageType:
                return $"{time} {Type} {Status} {Id} {Name}";
            case SystemType:
                return $"{time} {Type} {Status}";
            default:
                return $"{time} {Type} {Status} {Name}";
        }
    }

    public static WharfEvent? Parse(string line)
    {
        try
        {
            if (JsonNode.Parse(line) is not JsonObject o || Str(o, "Status") is not { } status || Str(o, "Type") is not { } type
                || Str(o, "Time") is not { } timeText || !TryParseRfc3339(timeText, out var time))
            {
                return null;
            }

            return new WharfEvent
            {
                ContainerExitCode = o["ContainerExitCode"] is JsonValue v && v.TryGetValue(out int code) ? code : 0,
                Id = Str(o, "ID"),
                Image = Str(o, "Image"),
                Name = Str(o, "Name"),
                Status = status,
                Time = time,
                Type = type,
                Attributes = o["Attributes"] is JsonObject a
                    ? a.Where(p => p.Value is JsonValue).ToDictionary(p => p.Key, p => p.Value!.ToString(), StringComparer.Ordinal)
                    : null,
            };
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Str(JsonObject o, string key) => o[key] is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    private static void WriteIfAny(Utf8JsonWriter w, string key, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            w.WriteString(key, value);
        }
    }

    /// <summary>The fraction of a second as Go prints it with <c>.999999999</c>: trailing zeros dropped, none at all for whole seconds.</summary>
    private static string Fraction(DateTimeOffset t)
    {
        long ticks = t.Ticks % TimeSpan.TicksPerSecond;
        return ticks == 0 ? string.Empty : "." + ticks.ToString("D7", CultureInfo.InvariantCulture).TrimEnd('0');
    }

    /// <summary>Go's RFC3339Nano in UTC: <c>2024-01-01T10:00:00.123456789Z</c>.</summary>
    public static string Rfc3339Nano(DateTimeOffset t)
    {
        var u = t.ToUniversalTime();
        return u.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + Fraction(u) + "Z";
    }

    /// <summary>Go's <c>time.Time.String()</c> in the local zone: <c>2024-01-01 10:00:00.123456789 +0000 UTC</c>.</summary>
    public static string GoTime(DateTimeOffset t)
    {
        var local = t.ToLocalTime();
        string offset = (local.Offset < TimeSpan.Zero ? "-" : "+") + local.Offset.ToString("hhmm", CultureInfo.InvariantCulture);
        string zone = local.Offset == TimeSpan.Zero && TimeZoneInfo.Local.BaseUtcOffset == TimeSpan.Zero ? "UTC" : offset;
        return local.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + Fraction(local) + " " + offset + " " + zone;
    }

    public static long TimeNano(DateTimeOffset t) => (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;

    /// <summary>RFC 3339 with up to nine fraction digits (beyond .NET's seven are dropped).</summary>
    public static bool TryParseRfc3339(string text, out DateTimeOffset time)
    {
        string t = text;
        int dot = t.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0)
        {
            int end = dot + 1;
            while (end < t.Length && char.IsDigit(t[end]))
            {
                end++;
            }

            string digits = t[(dot + 1)..end];
            t = t[..dot] + (digits.Length > 0 ? "." + digits[..Math.Min(7, digits.Length)] : string.Empty) + t[end..];
        }

        return DateTimeOffset.TryParse(t, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out time);
    }
}
