using System.Diagnostics;
using Wharf.Engine.Storage;
using System.Globalization;
using System.Text.Json;

namespace Wharf.Engine.Jobs;

/// <summary>
/// Job records under <c>&lt;graphroot&gt;/wharf/jobs/&lt;id&gt;/job.json</c>, written atomically
/// (temp file + rename); <c>jobs.lock</c> serialises read-modify-write across processes.
/// </summary>
public sealed class JobStore
{
    public JobStore(string graphRoot)
    {
        ArgumentNullException.ThrowIfNull(graphRoot);
        Root = Path.Combine(graphRoot, "wharf", "jobs");
    }

    public string Root { get; }

    public string Dir(string id) => Path.Combine(Root, id);

    public string RecordPath(string id) => Path.Combine(Root, id, "job.json");

    /// <summary>Every job, in submission order.</summary>
    public List<JobRecord> List()
    {
        if (!Directory.Exists(Root))
        {
            return [];
        }

        var jobs = new List<JobRecord>();
        foreach (string dir in Directory.GetDirectories(Root))
        {
            if (TryRead(Path.GetFileName(dir)) is { } j)
            {
                jobs.Add(j);
            }
        }

        return [.. jobs.OrderBy(j => j.Submitted).ThenBy(j => long.TryParse(j.Id, CultureInfo.InvariantCulture, out long n) ? n : long.MaxValue)];
    }

    public JobRecord? TryRead(string id)
    {
        if (id.Length == 0 || id.Contains('/', StringComparison.Ordinal) || id.StartsWith('.'))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(RecordPath(id)), JobJsonContext.Default.JobRecord);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public JobRecord Read(string id) => TryRead(id) ?? throw new WharfException($"no job with ID \"{id}\" found: no such job");

    public void Write(JobRecord job)
    {
        ArgumentNullException.ThrowIfNull(job);
        Directory.CreateDirectory(Dir(job.Id));
        string temp = RecordPath(job.Id) + ".tmp" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(job, JobJsonContext.Default.JobRecord));
        File.Move(temp, RecordPath(job.Id), overwrite: true);
    }

    /// <summary>The next sequential ID; call under <see cref="Locked{T}"/>. The directory is created so the ID is taken.</summary>
    public string NextId()
    {
        Directory.CreateDirectory(Root);
        long max = 0;
        foreach (string dir in Directory.GetDirectories(Root))
        {
            if (long.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out long n))
            {
                max = Math.Max(max, n);
            }
        }

        string id = (max + 1).ToString(CultureInfo.InvariantCulture);
        Directory.CreateDirectory(Dir(id));
        return id;
    }

    public void Delete(string id)
    {
        try
        {
            Directory.Delete(Dir(id), recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <summary>Runs <paramref name="action"/> holding <c>jobs.lock</c> (an exclusive file lock).</summary>
    public T Locked<T>(Func<T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        Directory.CreateDirectory(Root);
        return FileLock.Locked(Path.Combine(Root, "jobs.lock"), "job store", action);
    }

    public void Locked(Action action) => Locked(() =>
    {
        action();
        return 0;
    });
}
