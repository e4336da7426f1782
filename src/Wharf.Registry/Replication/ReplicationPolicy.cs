using System.Text;
using System.Text.RegularExpressions;
using Cronos;

namespace Wharf.Registry.Replication;

/// <summary>Harbor's trigger types: started by an admin, by the clock, or by a push/delete in this wharfd.</summary>
public static class ReplicationTriggers
{
    public const string Manual = "manual";
    public const string Scheduled = "scheduled";
    public const string EventBased = "event_based";
}

/// <summary>
/// One of a policy's filters, in Harbor's words: <c>name</c> (the repository) and <c>tag</c> take a
/// doublestar pattern, <c>decoration</c> <c>matches</c> (the default) or <c>excludes</c>. A <c>label</c>
/// filter's value is a JSON array of label names: <c>matches</c> selects an artifact that carries every
/// one of them, <c>excludes</c> one that carries none.
/// </summary>
public sealed record ReplicationFilter(string Type, string Value, string Decoration)
{
    public bool Excludes => Decoration == "excludes";

    /// <summary>A label filter's names.</summary>
    public IReadOnlyList<string> LabelNames => Type == "label"
        ? System.Text.Json.JsonSerializer.Deserialize<string[]>(Value) ?? []
        : [];

    public bool AcceptsLabels(IReadOnlyCollection<string> labels) => Excludes
        ? !LabelNames.Any(labels.Contains)
        : LabelNames.All(labels.Contains);

    public bool Accepts(string candidate) => DoublestarPattern.IsMatch(Value, candidate) != Excludes;
}

/// <summary>
/// A replication rule (Harbor's "policy"). <see cref="SourceRegistryId"/> null is a push-based rule
/// (this wharfd to <see cref="DestinationRegistryId"/>); <see cref="DestinationRegistryId"/> null is
/// a pull-based one (a registered endpoint into this wharfd). Exactly one of them is null.
/// </summary>
public sealed record ReplicationPolicy(
    long Id, string Name, string? Description, long? SourceRegistryId, long? DestinationRegistryId,
    string? DestinationNamespace, int DestinationNamespaceReplaceCount, string TriggerType, string? Cron,
    IReadOnlyList<ReplicationFilter> Filters, bool Deletion, bool Override, bool Enabled, int Speed, bool CopyByChunk,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public bool IsPush => SourceRegistryId is null;

    public bool AcceptsRepository(string repository) => Filters.Where(f => f.Type == "name").All(f => f.Accepts(repository));

    public bool AcceptsTag(string tag) => Filters.Where(f => f.Type == "tag").All(f => f.Accepts(tag));

    public bool HasLabelFilter => Filters.Any(f => f.Type == "label");

    public bool AcceptsLabels(IReadOnlyCollection<string> labels) => Filters.Where(f => f.Type == "label").All(f => f.AcceptsLabels(labels));

    /// <summary>The literal repository names of a <c>name</c> filter without wildcards: no catalog is needed to find them.</summary>
    public string? LiteralRepository =>
        Filters.Where(f => f.Type == "name" && !f.Excludes).ToList() is [var only] && only.Value.IndexOfAny(['*', '?', '[', '{', '\\']) < 0 ? only.Value : null;

    /// <summary>
    /// Where a source repository lands (Harbor's dest_namespace and dest_namespace_replace_count):
    /// -1 replaces the first path component with the namespace (the source's project), N ≥ 0 drops the
    /// first N components (keeping at least the last) and puts the namespace in front.
    /// </summary>
    public string DestinationRepository(string source)
    {
        if (string.IsNullOrEmpty(DestinationNamespace))
        {
            return source;
        }

        string[] parts = source.Split('/');
        if (DestinationNamespaceReplaceCount < 0)
        {
            return parts.Length == 1 ? $"{DestinationNamespace}/{source}" : $"{DestinationNamespace}/{string.Join('/', parts[1..])}";
        }

        int drop = Math.Min(DestinationNamespaceReplaceCount, parts.Length - 1);
        return $"{DestinationNamespace}/{string.Join('/', parts[drop..])}";
    }

    /// <summary>Harbor's cron has six fields (seconds first); five-field crontab lines are taken too.</summary>
    public static bool TryParseCron(string? text, out CronExpression? cron, out string? error)
    {
        cron = null;
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "trigger.trigger_settings.cron is required for a scheduled trigger";
            return false;
        }

        int fields = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        try
        {
            cron = CronExpression.Parse(text.Trim(), fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);
            return true;
        }
        catch (CronFormatException e)
        {
            error = $"invalid cron \"{text}\": {e.Message}";
            return false;
        }
    }
}

/// <summary>
/// Harbor's filter patterns (the doublestar library): <c>*</c> anything but <c>/</c>, <c>**</c> anything,
/// <c>?</c> one character but <c>/</c>, <c>[abc]</c>/<c>[!a-z]</c> classes, <c>{a,b}</c> alternatives.
/// </summary>
public static class DoublestarPattern
{
    public static bool IsMatch(string pattern, string candidate) =>
        TryCompile(pattern, out var regex, out _) && regex.IsMatch(candidate);

    public static bool TryCompile(string pattern, out Regex regex, out string? error)
    {
        var sb = new StringBuilder("^");
        int braces = 0;
        error = null;
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            switch (c)
            {
                case '*' when i + 1 < pattern.Length && pattern[i + 1] == '*':
                    i++;
                    // "**/" also matches no directory at all (library/**/x matches library/x).
                    if (i + 1 < pattern.Length && pattern[i + 1] == '/')
                    {
                        i++;
                        sb.Append("(?:.*/)?");
                    }
                    else
                    {
                        sb.Append(".*");
                    }

                    break;
                case '*':
                    sb.Append("[^/]*");
                    break;
                case '?':
                    sb.Append("[^/]");
                    break;
                case '[':
                    int end = pattern.IndexOf(']', i + 1);
                    if (end <= i + 1)
                    {
                        regex = null!;
                        error = $"pattern \"{pattern}\": '[' without ']' or with an empty class";
                        return false;
                    }

                    string set = pattern[(i + 1)..end];
                    sb.Append('[').Append(set[0] is '!' or '^' ? "^" + Regex.Escape(set[1..]).Replace("\\-", "-", StringComparison.Ordinal) : Regex.Escape(set).Replace("\\-", "-", StringComparison.Ordinal)).Append(']');
                    i = end;
                    break;
                case '{':
                    braces++;
                    sb.Append("(?:");
                    break;
                case '}' when braces > 0:
                    braces--;
                    sb.Append(')');
                    break;
                case ',' when braces > 0:
                    sb.Append('|');
                    break;
                case '\\' when i + 1 < pattern.Length:
                    i++;
                    sb.Append(Regex.Escape(pattern[i].ToString()));
                    break;
                default:
                    sb.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }

        if (braces != 0)
        {
            regex = null!;
            error = $"pattern \"{pattern}\": '{{' without '}}'";
            return false;
        }

        try
        {
            regex = new Regex(sb.Append('$').ToString(), RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            return true;
        }
        catch (ArgumentException e)
        {
            // A class the translation leaves invalid ("[!]", "[z-a]").
            regex = null!;
            error = $"pattern \"{pattern}\": {e.Message}";
            return false;
        }
    }
}
