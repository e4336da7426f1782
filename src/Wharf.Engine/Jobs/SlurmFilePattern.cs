using System.Globalization;
using System.Text;

namespace Wharf.Engine.Jobs;

/// <summary>
/// sbatch's filename patterns in --output/--error (sbatch(1), "filename pattern"), expanded as the
/// batch step does, so wharf finds the file sbatch wrote: %j and %J the job ID (the batch step has
/// no step number), %A the job ID, %a 4294967294 (not an array), %x the job name, %u the user,
/// %N the node's short name, %n %t 0, %s <c>batch</c>, %% a percent sign; a number after % pads
/// numbers with zeros. A backslash anywhere turns expansion off.
/// </summary>
public static class SlurmFilePattern
{
    /// <summary>What sbatch puts for %a when the job is not an array (Slurm's NO_VAL).</summary>
    public const string NoArrayTask = "4294967294";

    /// <summary>The path, expanded; null when it needs the node (%N) and none is known yet.</summary>
    public static string? Expand(string pattern, string jobId, string jobName, string user, string? node)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        if (!pattern.Contains('%', StringComparison.Ordinal))
        {
            return pattern;
        }

        if (pattern.Contains('\\', StringComparison.Ordinal))
        {
            return pattern.Replace("\\", string.Empty, StringComparison.Ordinal);
        }

        var sb = new StringBuilder();
        for (int i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] != '%' || i + 1 >= pattern.Length)
            {
                sb.Append(pattern[i]);
                continue;
            }

            int j = i + 1;
            while (j < pattern.Length && char.IsAsciiDigit(pattern[j]))
            {
                j++;
            }

            int width = j > i + 1 ? int.Parse(pattern.AsSpan(i + 1, j - i - 1), CultureInfo.InvariantCulture) : 0;
            if (j >= pattern.Length)
            {
                sb.Append(pattern, i, j - i);
                break;
            }

            string Number(string n) => width > 0 ? n.PadLeft(Math.Min(width, 10), '0') : n;
            string? value = pattern[j] switch
            {
                '%' => "%",
                'j' or 'J' or 'A' => Number(jobId),
                'a' => Number(NoArrayTask),
                'x' => jobName,
                'u' => user,
                'N' => node?.Split('.')[0],
                'n' or 't' => Number("0"),
                's' => "batch",
                _ => pattern[i..(j + 1)],
            };
            if (value is null)
            {
                return null;
            }

            sb.Append(value);
            i = j;
        }

        return sb.ToString();
    }
}
