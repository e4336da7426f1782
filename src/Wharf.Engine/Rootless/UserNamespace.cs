using System.Globalization;
using System.Runtime.InteropServices;
using Wharf.Client.Processes;
using Wharf.Content.Layers;

namespace Wharf.Engine.Rootless;

/// <summary>
/// The user namespace an ordinary user's wharf works in, as rootless podman's: the user's own ID is
/// root inside and the subordinate ranges of /etc/subuid and /etc/subgid map the rest, so layers
/// unpack with their owners, overlay mounts and runc runs. One long-lived pause process holds the
/// namespace (and its mount namespace, where the containers' overlays stay mounted between
/// commands); every wharf process of the user joins it with nsenter.
/// </summary>
/// <remarks>
/// A .NET process has threads from its first instruction, and unshare(CLONE_NEWUSER) and setns into a
/// user namespace both refuse a threaded caller: so the namespace is made by util-linux's unshare
/// in a child, mapped from here with newuidmap/newgidmap, and joined by exec'ing nsenter, which then
/// exec's this wharf again inside.
/// </remarks>
public static partial class UserNamespace
{
    /// <summary>The user's host UID and GID, handed to the wharf that runs inside (where getuid() is 0).</summary>
    public const string UidVariable = "_WHARF_ROOTLESS_UID";
    public const string GidVariable = "_WHARF_ROOTLESS_GID";

    [LibraryImport("libc", EntryPoint = "getuid")]
    public static partial uint GetUid();

    [LibraryImport("libc", EntryPoint = "getgid")]
    public static partial uint GetGid();

    [LibraryImport("libc", EntryPoint = "execve", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int ExecVe(string path, nint* argv, nint* envp);

    /// <summary>This process is wharf's own rootless namespace: root inside, with the user's host UID handed down.</summary>
    public static bool IsInside() =>
        Environment.GetEnvironmentVariable(UidVariable) is { Length: > 0 } && GetUid() == 0 && !Content.HostIdentity.InInitialNamespace();

    /// <summary>
    /// The user's runtime directory: <c>$XDG_RUNTIME_DIR</c> when set, else <c>/run/user/UID</c> when it
    /// is theirs, else <c>$TMPDIR/wharf-run-UID</c>, which <paramref name="create"/> makes 0700 (refused
    /// if another user made it first); reading the configuration only names it.
    /// </summary>
    public static string RuntimeDirectory(Func<string, string?> env, uint uid, bool create = true)
    {
        ArgumentNullException.ThrowIfNull(env);
        if (env("XDG_RUNTIME_DIR") is { Length: > 0 } xdg)
        {
            return xdg;
        }

        // Inside the namespace the user's files show as root's: either owner is the user's.
        uint self = GetUid();
        string run = $"/run/user/{uid}";
        if (Directory.Exists(run) && OwnerOf(run) is var owner && (owner == uid || owner == self))
        {
            return run;
        }

        string tmp = Path.Combine(env("TMPDIR") is { Length: > 0 } t ? t : "/tmp", $"wharf-run-{uid}");
        if (!create)
        {
            return tmp;
        }

        Directory.CreateDirectory(tmp);
        if (OwnerOf(tmp) != self)
        {
            throw new WharfException($"the runtime directory {tmp} belongs to another user: set XDG_RUNTIME_DIR to a directory of your own");
        }

        return Storage.PrivateDirectory.Create(tmp);
    }

    private static uint OwnerOf(string path)
    {
        var st = FileStatus.LStat(path) ?? throw new WharfException($"stat {path}: not found");
        return st.Uid;
    }

    /// <summary>
    /// Replaces this process with nsenter joining the user's namespace (made first when missing),
    /// which runs <paramref name="self"/> with <paramref name="args"/> inside. Returns only on failure.
    /// </summary>
    public static WharfException Enter(IReadOnlyList<string> self, IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(self);
        ArgumentNullException.ThrowIfNull(args);
        uint uid = GetUid(), gid = GetGid();
        int pause = PauseProcess.Ensure(uid, gid, RuntimeDirectory(Environment.GetEnvironmentVariable, uid));
        string nsenter = Containers.RootfsMount.FindTool("nsenter")
            ?? throw new WharfException("nsenter not found: install util-linux");

        // --preserve-credentials keeps the user's supplementary groups (shown as nogroup inside, still
        // honoured by the host for group-shared data directories); nsenter would otherwise drop them.
        var argv = new List<string> { nsenter, "--user", "--mount", "--target", pause.ToString(CultureInfo.InvariantCulture), "--preserve-credentials", "--" };
        argv.AddRange(self);
        argv.AddRange(args);
        var envp = new List<string>();
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            string key = (string)e.Key;
            if (key is not (UidVariable or GidVariable))
            {
                envp.Add(key + "=" + (string?)e.Value);
            }
        }

        envp.Add(UidVariable + "=" + uid.ToString(CultureInfo.InvariantCulture));
        envp.Add(GidVariable + "=" + gid.ToString(CultureInfo.InvariantCulture));
        Console.Out.Flush();
        Console.Error.Flush();
        int errno = Exec(nsenter, argv, envp);
        return new WharfException($"entering the user namespace with {nsenter}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    private static unsafe int Exec(string path, List<string> argv, List<string> envp)
    {
        nint* a = stackalloc nint[argv.Count + 1];
        nint* e = (nint*)NativeMemory.Alloc((nuint)(envp.Count + 1), (nuint)sizeof(nint));
        for (int i = 0; i < argv.Count; i++)
        {
            a[i] = Marshal.StringToCoTaskMemUTF8(argv[i]);
        }

        for (int i = 0; i < envp.Count; i++)
        {
            e[i] = Marshal.StringToCoTaskMemUTF8(envp[i]);
        }

        a[argv.Count] = 0;
        e[envp.Count] = 0;
        ExecVe(path, a, e);
        int errno = Marshal.GetLastPInvokeError();
        for (int i = 0; i < argv.Count; i++)
        {
            Marshal.FreeCoTaskMem(a[i]);
        }

        for (int i = 0; i < envp.Count; i++)
        {
            Marshal.FreeCoTaskMem(e[i]);
        }

        NativeMemory.Free(e);
        return errno;
    }

    /// <summary>How to start this wharf again: the apphost, or dotnet with the entry assembly.</summary>
    public static List<string> SelfCommand()
    {
        string exe = Environment.ProcessPath ?? "wharf";
        var self = new List<string> { exe };
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet" && Environment.GetCommandLineArgs()[0] is { Length: > 0 } dll)
        {
            self.Add(dll);
        }

        return self;
    }

    /// <summary>Runs a helper to completion; the error text when it failed.</summary>
    internal static string? Run(string tool, IEnumerable<string> args)
    {
        try
        {
            var result = ProcessRunner.Run(tool, args);
            return result.Succeeded ? null : $"{Path.GetFileName(tool)}: {result.StandardError.Trim()}";
        }
        catch (ProgramNotFoundException e)
        {
            return e.Message;
        }
    }
}
