using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.Text.Json.Nodes;
using Wharf.Cli.Tests.Containers;
using Wharf.Cli.Tests.Jobs;

namespace Wharf.Cli.Tests.Rootless;

/// <summary>
/// wharf as the cluster's users run it: an unprivileged account with subordinate ID ranges, its own
/// user namespace, kernel overlay inside it, rootless runc, slirp4netns — against a real wharfd.
/// </summary>
[Collection("containers")]
public sealed class RootlessTests(ContainerFixture fixture)
{
    private static uint FileOwner(string path) => uint.Parse(Tools.Check("stat", "-c", "%u", path).Trim(), CultureInfo.InvariantCulture);

    private static string FileMode(string path) => Tools.Check("stat", "-c", "%a", path).Trim();

    [Fact]
    public async Task Walkthrough_UnprivilegedUser_LoginPullRunItCommitPushRun()
    {
        using var user = new RootlessUser.Session(RootlessUser.WithRanges);
        string login = user.Check("login", "--tls-verify=false", "-u", "admin", "-p", ContainerFixture.Creds[6..], fixture.Registry);
        Assert.Contains("Login Succeeded!", login, StringComparison.Ordinal);
        user.Check("pull", "-q", "--tls-verify=false", fixture.Image);

        // The store is where podman keeps a rootless user's, and nobody else may enter it.
        Assert.True(Directory.Exists(Path.Combine(user.DefaultGraphRoot, "wharf")), "store not under ~/.local/share/containers/storage");
        Assert.Equal("700", FileMode(user.DefaultGraphRoot));
        Assert.Equal("700", FileMode(Path.Combine(user.DefaultGraphRoot, "wharf")));
        Assert.Equal(user.Uid, FileOwner(user.DefaultGraphRoot));

        // run -it through a pseudo-terminal; the image's files keep their owners inside (root's are root's).
        string typed = "test -t 0 && echo tty-ok; id -u; busybox stat -c %u /home/job 2>/dev/null || echo 0; echo changed > /opt/tool; exit 0\n";
        var (code, shown) = await Terminal.RunAsync(user.ShellCommand("run", "-it", "--name", "changer", fixture.Image, "sh"), typed, TimeSpan.FromSeconds(2));
        Assert.True(code == 0, "run -it failed: " + shown);
        Assert.Contains("tty-ok", shown, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^0\r?$", shown);

        Assert.Matches(@"(?m)^[0-9a-f]{12}  .*Exited \(0\) .* changer$", user.Check("ps", "-a"));
        string id = user.Check("commit", "-q", "changer", "changed:1").Trim();
        Assert.Matches("^[0-9a-f]{64}$", id);
        string target = $"{fixture.Registry}/lab/rootless-{Guid.NewGuid():N}:with-change";
        user.Check("push", "--tls-verify=false", "changed:1", target);

        // What was pushed runs for another user (root here) with the change in it.
        using var other = new WharfProcess();
        Assert.Equal("changed\n", other.Check("run", "--rm", "--tls-verify=false", target, "cat", "/opt/tool"));

        user.Check("rm", "changer");
        Assert.Equal(string.Empty, user.Check("ps", "-a", "-q"));
    }

    [Fact]
    public void Build_RunStepsAsUnprivilegedUser_OwnersInTheImageKeepTheirMeaning()
    {
        using var user = new RootlessUser.Session(RootlessUser.WithRanges);
        string context = Path.Combine(user.Data, "ctx");
        Directory.CreateDirectory(context);
        File.WriteAllText(Path.Combine(context, "Containerfile"),
            $"FROM {fixture.Image}\nRUN mkdir -p /srv/app && echo built > /srv/app/out && busybox chown 1000:1000 /srv/app/out\nRUN busybox stat -c %u:%g /srv/app/out > /srv/app/owner\nUSER 1000\n");
        Tools.Check("chown", "-R", $"{user.Uid}:{user.Gid}", context);

        string output = user.Check("build", "--tls-verify=false", "-t", "built:1", context);

        Assert.Contains("STEP 2/4: RUN", output, StringComparison.Ordinal);
        Assert.Equal("1000:1000\nbuilt\n1000\n", user.Check("run", "--rm", "built:1", "sh", "-c", "cat /srv/app/owner /srv/app/out; id -u"));

        // On the host, that file belongs to a subordinate ID of the user's, not to the host's UID 1000 or root.
        string layer = Tools.Check("find", user.DefaultGraphRoot, "-path", "*/srv/app/out", "-print", "-quit").Trim();
        Assert.NotEmpty(layer);
        uint first = Wharf.Engine.Rootless.SubordinateIds.Read(Wharf.Engine.Rootless.SubordinateIds.UidFile, user.Name, user.Uid)[0].Start;
        Assert.Equal(first + 1000 - 1, FileOwner(layer));
    }

    [Fact]
    public void Job_LocalJobWritesIntoDataDirectory_FilesBelongToTheUser()
    {
        using var user = new RootlessUser.Session(RootlessUser.WithRanges);

        // The job's script lives on the mounted data directory, as the cluster's job scripts do.
        user.Shell($"printf '#!/bin/sh\\nid -u > {user.Data}/who; echo result > {user.Data}/result\\n' > {user.Data}/job.sh && chmod 755 {user.Data}/job.sh");
        string stdout = user.Check("job", "submit", "--tls-verify=false", "--image", fixture.Image, "-v", $"{user.Data}:{user.Data}",
            "--", $"{user.Data}/job.sh");
        string id = stdout.Trim().Split('\n')[^1].Trim();

        var job = WaitFinal(user, id);

        Assert.Equal("completed", (string?)job["state"]);
        Assert.Equal($"{user.Uid}\n", File.ReadAllText(Path.Combine(user.Data, "who")));
        Assert.Equal(user.Uid, FileOwner(Path.Combine(user.Data, "result")));
        Assert.Equal(user.Uid, FileOwner(Path.Combine(user.Data, "who")));
    }

    private static JsonObject WaitFinal(RootlessUser.Session user, string id)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var job = JsonNode.Parse(user.Check("job", "status", "--format", "json", id))!.AsObject();
            if ((string?)job["state"] is "completed" or "failed" or "cancelled")
            {
                return job;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"job {id} still {(string?)job["state"]} after 2 minutes: {user.Run("job", "logs", id).Stdout}");
            Thread.Sleep(200);
        }
    }

    [Fact]
    public void Run_KeepId_OwnUidInsideAndWrittenFilesTheUsersOnTheHost()
    {
        using var user = new RootlessUser.Session(RootlessUser.WithRanges);
        string shown = user.Check("run", "--rm", "--tls-verify=false", "--userns=keep-id", "-v", $"{user.Data}:/data", fixture.Image,
            "sh", "-c", "id -u; id -g; echo kept > /data/kept");

        string[] lines = shown.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(user.Uid.ToString(CultureInfo.InvariantCulture), lines[0]);
        Assert.Equal(user.Gid.ToString(CultureInfo.InvariantCulture), lines[1]);
        Assert.Equal(user.Uid, FileOwner(Path.Combine(user.Data, "kept")));
        Assert.Contains(user.Name + ":*:" + user.Uid + ":", user.Check("run", "--rm", "--userns=keep-id", fixture.Image, "cat", "/etc/passwd"), StringComparison.Ordinal);

        // Without keep-id, root inside is the user outside: files are the user's as well.
        user.Check("run", "--rm", "-v", $"{user.Data}:/data", fixture.Image, "sh", "-c", "echo root > /data/as-root");
        Assert.Equal(user.Uid, FileOwner(Path.Combine(user.Data, "as-root")));
    }

    [Fact]
    public void Run_BadUserNamespaceMode_Exit125()
    {
        using var user = new RootlessUser.Session(RootlessUser.WithRanges);
        var (code, _, stderr) = user.Run("run", "--rm", "--userns=auto", fixture.Image, "true");
        Assert.Equal(125, code);
        Assert.Contains("user namespace mode \"auto\" is not supported", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Networks_Slirp4netnsByDefaultHostAndNoneOnRequest()
    {
        using var user = new RootlessUser.Session(RootlessUser.WithRanges);
        user.Check("pull", "-q", "--tls-verify=false", fixture.Image);

        string slirp = user.Check("run", "--rm", fixture.Image, "sh", "-c", "busybox ip -4 addr show tap0; cat /etc/resolv.conf");
        Assert.Contains("inet 10.0.2.100/24", slirp, StringComparison.Ordinal);
        Assert.Contains("nameserver 10.0.2.3", slirp, StringComparison.Ordinal);

        // allow_host_loopback: 10.0.2.2 is the host's loopback, where wharfd listens.
        string port = fixture.Registry.Split(':')[1];
        string reached = user.Check("run", "--rm", "--network", "slirp4netns:allow_host_loopback=true", fixture.Image,
            "sh", "-c", $"busybox wget -S -O /dev/null http://10.0.2.2:{port}/v2/ 2>&1 | grep HTTP/ || true");
        Assert.Contains("401", reached, StringComparison.Ordinal);
        string refused = user.Check("run", "--rm", fixture.Image, "sh", "-c", $"busybox wget -O /dev/null -T 5 http://10.0.2.2:{port}/v2/ 2>&1; echo done");
        Assert.DoesNotContain("401", refused, StringComparison.Ordinal);

        string none = user.Check("run", "--rm", "--network", "none", fixture.Image, "sh", "-c", "busybox ip -o link | busybox wc -l");
        Assert.Equal("1\n", none);
        string host = user.Check("run", "--rm", "--network", "host", fixture.Image, "sh", "-c", "busybox ip -o link | busybox wc -l");
        Assert.Equal(Tools.Check("sh", "-c", "ip -o link | wc -l").Trim() + "\n", host);

        // The containers' slirp4netns processes ended with them (a zombie waits only for this machine's init to reap it).
        var clock = Stopwatch.StartNew();
        while (LiveProcesses(user.Uid, "slirp4netns") > 0 && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            Thread.Sleep(50);
        }

        Assert.Equal(0, LiveProcesses(user.Uid, "slirp4netns"));

        var (code, _, stderr) = user.Run("run", "--rm", "--network", "slirp4netns:nosuch=1", fixture.Image, "true");
        Assert.Equal(125, code);
        Assert.Contains("invalid slirp4netns option", stderr, StringComparison.Ordinal);
    }

    /// <summary>Processes named <paramref name="name"/> of <paramref name="uid"/> that are not zombies.</summary>
    private static int LiveProcesses(uint uid, string name)
    {
        int count = 0;
        foreach (string dir in Directory.EnumerateDirectories("/proc").Where(d => Path.GetFileName(d).All(char.IsAsciiDigit)))
        {
            try
            {
                var status = File.ReadAllLines(Path.Combine(dir, "status")).Select(l => l.Split(':', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1].Trim());
                if (status["Name"] == name && !status["State"].StartsWith('Z') && status["Uid"].Split('\t')[0] == uid.ToString(CultureInfo.InvariantCulture))
                {
                    count++;
                }
            }
            catch (IOException)
            {
            }
        }

        return count;
    }

    [Fact]
    public void StorageConf_GraphrootOfTheUsersFile_StoreLandsThere()
    {
        using var user = new RootlessUser.Session(RootlessUser.WithRanges);
        string relocated = Path.Combine(user.Data, "local", "storage", "abc123");
        string conf = Path.Combine(user.Home, ".config", "containers");
        user.Shell($"mkdir -p {conf} && printf '[storage]\\ndriver = \"overlay\"\\ngraphroot = \"{relocated}\"\\n' > {conf}/storage.conf");

        user.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        Assert.Equal("ok\n", user.Check("run", "--rm", fixture.Image, "echo", "ok"));

        Assert.True(Directory.Exists(Path.Combine(relocated, "wharf", "blobs")), "no store at the configured graphroot");
        Assert.Equal("700", FileMode(relocated));
        Assert.False(Directory.Exists(user.DefaultGraphRoot), "the default store was used although storage.conf moved it");
        Assert.Contains(relocated, user.Check("info"), StringComparison.Ordinal);
    }

    [Fact]
    public void Run_DetachedStopRemoveAndReset_NothingOfTheUsersLeft()
    {
        using var user = new RootlessUser.Session(RootlessUser.WithRanges);
        string id = user.Check("run", "-d", "--tls-verify=false", "--name", "bg", fixture.Image, "sleep", "300").Trim();
        Assert.Matches("^[0-9a-f]{64}$", id);
        Assert.Contains(" bg", user.Check("ps"), StringComparison.Ordinal);
        Assert.Equal("hello\n", user.Check("exec", "bg", "echo", "hello"));
        user.Check("stop", "-t", "1", "bg");
        Assert.Matches(@"Exited \(137\)", user.Check("ps", "-a"));
        user.Check("rm", "bg");

        // Unpacked layers hold files of subordinate IDs, which the user cannot delete outside the namespace.
        user.Check("system", "reset", "--force");
        Assert.Equal(string.Empty, user.Shell($"ls -A {user.Home}/.local/share/containers/storage 2>/dev/null || true"));
    }

    [Fact]
    public void Run_UserWithoutSubordinateRanges_WarnsNamingSubuidAndStillRuns()
    {
        using var user = new RootlessUser.Session(RootlessUser.WithoutRanges, ranges: false);
        var (code, stdout, stderr) = user.Run("run", "--rm", "--tls-verify=false", fixture.Image, "sh", "-c", "echo ran; cat /proc/self/uid_map");

        Assert.True(code == 0, stderr);
        Assert.StartsWith("ran\n", stdout, StringComparison.Ordinal);
        Assert.Matches(@"^\s*0\s+" + user.Uid + @"\s+1\s*$", stdout.Split('\n')[1]);
        Assert.Contains("/etc/subuid", stderr, StringComparison.Ordinal);
        Assert.Contains("usermod --add-subuids", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_LayerChmodsThroughSymlinkToUsersFiles_UsersFilesUntouched()
    {
        using var user = new RootlessUser.Session(RootlessUser.WithRanges);
        string victim = Path.Combine(user.Data, "victim");
        user.Shell($"mkdir -p {victim} && chmod 0700 {victim} && echo secret > {victim}/keep && chmod 0600 {victim}/keep");

        // x/ (0777), then x → the user's own directory, then x/ again with 04777 and a file under it.
        using var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "x/") { Mode = (UnixFileMode)0x1FF });
            w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "x") { LinkName = victim });
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "x/") { Mode = (UnixFileMode)0x9FF });
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "x/keep") { DataStream = new MemoryStream("owned\n"u8.ToArray()), Mode = (UnixFileMode)0x9ED });
            w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "k") { LinkName = Path.Combine(victim, "keep") });
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "k") { DataStream = new MemoryStream("owned\n"u8.ToArray()), Mode = (UnixFileMode)0x9ED });
        }

        byte[] layer = ms.ToArray();
        string config = $"{{\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{HostileImageTests.Sha(layer)}\"]}}}}";
        string layout = HostileImageTests.Layout(user.Data, config, layer);
        Tools.Check("chown", "-R", $"{user.Uid}:{user.Gid}", layout);
        user.Check("load", "-i", layout);

        user.Run("create", "localhost/hostile:1", "/bin/true");

        Assert.Equal("700", FileMode(victim));
        Assert.Equal("600", FileMode(Path.Combine(victim, "keep")));
        Assert.Equal("secret\n", File.ReadAllText(Path.Combine(victim, "keep")));
        Assert.Equal(user.Uid, FileOwner(Path.Combine(victim, "keep")));
    }
}
