namespace Wharf.Engine.Containers;

/// <summary>
/// podman's <c>--env-file</c> (run, create, exec): one <c>KEY=VALUE</c> a line, kept as written
/// after the leading white space (trailing spaces and quotes are part of the value); blank lines
/// and lines starting with <c>#</c> are skipped; a bare <c>KEY</c> takes the caller's value (and is
/// dropped when the caller has none), a bare <c>PREFIX*</c> every caller variable starting so.
/// </summary>
public static class EnvFile
{
    /// <summary>
    /// podman's <c>-e</c> rule, for one entry into <paramref name="env"/>: <c>KEY=VALUE</c> replaces any
    /// earlier <c>KEY</c>; a bare <c>KEY</c> takes <paramref name="lookup"/>'s value (wharf's own
    /// environment), or is dropped when there is none.
    /// </summary>
    public static void Set(List<string> env, string entry, Func<string, string?> lookup)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(lookup);
        int eq = entry.IndexOf('=', StringComparison.Ordinal);
        if (eq < 0)
        {
            if (lookup(entry) is not { } value)
            {
                return;
            }

            entry = entry + "=" + value;
            eq = entry.Length - value.Length - 1;
        }

        string key = entry[..(eq + 1)];
        env.RemoveAll(e => e.StartsWith(key, StringComparison.Ordinal));
        env.Add(entry);
    }

    /// <summary>The file's entries in order, each <c>KEY=VALUE</c>; errors in podman's words.</summary>
    public static IReadOnlyList<string> Read(string path, Func<string, string?> lookup, Func<IEnumerable<KeyValuePair<string, string>>> environment)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(lookup);
        ArgumentNullException.ThrowIfNull(environment);
        string[] lines;
        try
        {
            if (Directory.Exists(path))
            {
                throw new WharfException($"parsing env file \"{path}\": read {path}: is a directory");
            }

            lines = File.ReadAllLines(path);
        }
        catch (FileNotFoundException)
        {
            throw new WharfException($"parsing env file \"{path}\": open {path}: no such file or directory");
        }
        catch (DirectoryNotFoundException)
        {
            throw new WharfException($"parsing env file \"{path}\": open {path}: no such file or directory");
        }
        catch (UnauthorizedAccessException)
        {
            throw new WharfException($"parsing env file \"{path}\": open {path}: permission denied");
        }

        var entries = new List<string>();
        foreach (string raw in lines)
        {
            string line = raw.TrimStart();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq == 0)
            {
                throw new WharfException($"parsing env file \"{path}\": invalid environment variable: \"{line}\"");
            }

            if (eq > 0)
            {
                entries.Add(line);
            }
            else if (line.EndsWith('*'))
            {
                string prefix = line[..^1];
                entries.AddRange(environment().Where(v => v.Key.StartsWith(prefix, StringComparison.Ordinal)).OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => v.Key + "=" + v.Value));
            }
            else if (lookup(line) is { } value)
            {
                entries.Add(line + "=" + value);
            }
        }

        return entries;
    }

    /// <summary>This process's environment, for <see cref="Read"/>.</summary>
    public static IEnumerable<KeyValuePair<string, string>> ProcessEnvironment() =>
        Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .Select(e => KeyValuePair.Create((string)e.Key, (string?)e.Value ?? string.Empty));
}
