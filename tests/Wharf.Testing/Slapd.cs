using System.Diagnostics;

namespace Wharf.Testing;

/// <summary>
/// A private OpenLDAP server (tests/ldap/start-slapd.sh) on 127.0.0.1 with a small tree: alice and erin in Lab,
/// bob in Ops which is in Infra (nested), erin in Admins, carol and dave in no group; a service account
/// cn=reader. Stopped by its PID, and killed at test-host exit if no test stopped it (<see cref="Daemons"/>).
/// </summary>
public sealed class Slapd : IDisposable
{
    public const string BaseDn = "dc=wharf,dc=test";
    public const string ReaderDn = "cn=reader,dc=wharf,dc=test";
    public const string ReaderPassword = "ReaderPass1";

    private int? _pid;

    private Slapd(string directory, int port, int tlsPort)
    {
        Directory = directory;
        Port = port;
        TlsPort = tlsPort;
    }

    public string Directory { get; }

    public int Port { get; }

    public int TlsPort { get; }

    public string Url => $"ldap://127.0.0.1:{Port}";

    public string LdapsUrl => $"ldaps://127.0.0.1:{TlsPort}";

    public string CaFile => Path.Combine(Directory, "tls", "ca.pem");

    public static Slapd Start()
    {
        string script = Script();
        string directory = System.IO.Directory.CreateTempSubdirectory("wharf-slapd-").FullName;
        for (int attempt = 0; ; attempt++)
        {
            var slapd = new Slapd(directory, LoopbackPort.Free(), LoopbackPort.Free());
            var (code, stdout, stderr) = Run("bash", script, directory, slapd.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), slapd.TlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (code == 0 && int.TryParse(stdout.Trim(), out int pid))
            {
                slapd._pid = pid;
                Daemons.Track("slapd", pid);
                return slapd;
            }

            // A port taken between choosing and binding: try others, a bounded number of times.
            if (attempt == 2)
            {
                TempDirectory.TryDelete(directory);
                throw new InvalidOperationException($"slapd did not start (exit {code}): {stderr} {stdout}");
            }
        }
    }

    /// <summary>Settings (Registry:Configurations:…) for wharfd in ldap_auth mode against this server over plain LDAP.</summary>
    public Dictionary<string, string?> Settings(int groupProjectRole = 2, int refreshSeconds = 0) => new()
    {
        ["Registry:Configurations:auth_mode"] = "ldap_auth",
        ["Registry:Configurations:ldap_url"] = Url,
        ["Registry:Configurations:ldap_allow_insecure"] = "true",
        ["Registry:Configurations:ldap_search_dn"] = ReaderDn,
        ["Registry:Configurations:ldap_search_password"] = ReaderPassword,
        ["Registry:Configurations:ldap_base_dn"] = "ou=people," + BaseDn,
        ["Registry:Configurations:ldap_filter"] = "(objectClass=inetOrgPerson)",
        ["Registry:Configurations:ldap_uid"] = "uid",
        ["Registry:Configurations:ldap_group_base_dn"] = "ou=groups," + BaseDn,
        ["Registry:Configurations:ldap_group_project_role"] = groupProjectRole.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Registry:Configurations:ldap_group_refresh_seconds"] = refreshSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Registry:Configurations:ldap_group_cache_seconds"] = "3600",
    };

    /// <summary>Applies an LDIF change as the directory's root (ldapmodify).</summary>
    public void Modify(string ldif)
    {
        string file = Path.Combine(Directory, "change-" + Guid.NewGuid().ToString("N")[..8] + ".ldif");
        File.WriteAllText(file, ldif);
        var (code, stdout, stderr) = Run("ldapmodify", "-x", "-H", Url, "-D", "cn=admin," + BaseDn, "-w", "secret", "-f", file);
        if (code != 0)
        {
            throw new InvalidOperationException($"ldapmodify failed (exit {code}): {stderr} {stdout}");
        }
    }

    /// <summary>
    /// Sets a password in the directory (as its root), as a password change there would: a person's by default,
    /// or the service account's (<c>cn=reader</c> under <see cref="BaseDn"/>) with <paramref name="parent"/>.
    /// </summary>
    public void SetPassword(string name, string password, string? parent = null) => Modify($"""
        dn: {(parent is null ? $"uid={name},ou=people,{BaseDn}" : $"cn={name},{parent}")}
        changetype: modify
        replace: userPassword
        userPassword: {password}

        """);

    /// <summary>
    /// Starts slapd again after <see cref="Stop"/>, on the same ports and database, so what was changed in the
    /// directory before it stopped is still there (a directory coming back after an outage).
    /// </summary>
    public void Restart()
    {
        if (_pid is not null)
        {
            throw new InvalidOperationException("slapd is still running");
        }

        var (code, stdout, stderr) = Run("bash", Script(), Directory, Port.ToString(System.Globalization.CultureInfo.InvariantCulture), TlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (code != 0 || !int.TryParse(stdout.Trim(), out int pid))
        {
            throw new InvalidOperationException($"slapd did not start again (exit {code}): {stderr} {stdout}");
        }

        _pid = pid;
        Daemons.Track("slapd", pid);
    }

    /// <summary>Stops slapd (SIGTERM) and waits until it has exited.</summary>
    public void Stop()
    {
        if (_pid is not int pid)
        {
            return;
        }

        _pid = null;
        Daemons.Forget(pid);
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
        }
        catch (ArgumentException)
        {
            return; // already gone
        }

        // slapd daemonised itself, so it is no child of this process: watch /proc until it is gone (bounded).
        for (int i = 0; i < 300 && System.IO.Directory.Exists($"/proc/{pid}"); i++)
        {
            Thread.Sleep(100);
        }
    }

    public void Dispose()
    {
        Stop();
        TempDirectory.TryDelete(Directory);
    }

    private static string Script()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "tests", "ldap", "start-slapd.sh");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("tests/ldap/start-slapd.sh not found above " + AppContext.BaseDirectory);
    }

    private static (int Code, string Stdout, string Stderr) Run(string tool, params string[] args)
    {
        var start = new ProcessStartInfo(tool) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
        }

        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
