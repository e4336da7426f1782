using System.Text.Json.Nodes;
using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests.Build;

/// <summary>wharf build as a real process: every instruction, stages, the cache, ARG scoping and the failures.</summary>
[Collection("build")]
public sealed class BuildTests : IDisposable
{
    /// <summary>A runnable base from nothing: busybox copied in and its applets linked.</summary>
    internal const string Base = "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n";

    private readonly WharfProcess _wharf = new();

    public BuildTests()
    {
        BuildTools.Ensure();
        Context = Path.Combine(_wharf.Dir, "ctx");
        Directory.CreateDirectory(Context);
        File.Copy("/bin/busybox", Path.Combine(Context, "busybox"));
    }

    private string Context { get; }

    public void Dispose() => _wharf.Dispose();

    private void Write(string name, string text)
    {
        string path = Path.Combine(Context, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    private (int ExitCode, string Stdout, string Stderr) Build(params string[] args) => _wharf.Run(["build", .. args, Context]);

    private JsonObject Inspect(string image) => JsonNode.Parse(_wharf.Check("inspect", image))!.AsArray()[0]!.AsObject();

    private string RunIn(string image, params string[] command) => _wharf.Check(["run", "--rm", image, .. command]);

    [Fact]
    public void Build_StepsWithEmptyOrDeleteOnlyDiffs_EveryLayerCompleteAndCheckClean()
    {
        Directory.CreateDirectory(Path.Combine(Context, "empty"));
        Write("Dockerfile", Base + "RUN true\nCOPY empty/ /opt/empty/\nCOPY empty/ /\nRUN rm /bin/cat\n");

        var (code, _, stderr) = Build("-q", "-t", "sparse:1");

        Assert.True(code == 0, stderr);
        var check = _wharf.Run("system", "check");
        Assert.True(check.ExitCode == 0 && check.Stdout.Length == 0, check.Stdout + check.Stderr);
        Assert.Equal("yes\n", RunIn("sparse:1", "sh", "-c", "test -d /opt/empty && test ! -e /bin/cat && echo yes"));
    }

    [Fact]
    public void Build_EveryInstruction_FilesConfigAndOutput()
    {
        Write("Dockerfile", Base + """
            # comment
            LABEL maintainer="lab" version=1
            ENV APP=/app \
                GREETING="hello there"
            WORKDIR $APP
            COPY a.txt dir/ ./
            ADD files.tar /unpacked/
            COPY --chown=1000:1000 --chmod=600 a.txt owned.txt
            RUN echo "$GREETING" > built.txt && mkdir /data
            EXPOSE 8080 53/udp
            VOLUME ["/data"]
            USER 1000:1000
            STOPSIGNAL SIGINT
            SHELL ["/bin/sh", "-c"]
            HEALTHCHECK --interval=30s --retries=2 CMD cat /app/built.txt
            ONBUILD RUN echo child
            ENTRYPOINT ["/bin/sh", "-c"]
            CMD ["cat /app/built.txt"]
            """);
        Write("a.txt", "a\n");
        Write("dir/b.txt", "b\n");
        Directory.CreateDirectory(Path.Combine(Context, "t"));
        File.WriteAllText(Path.Combine(Context, "t", "inner.txt"), "inner\n");
        Tools.Check("tar", "-C", Path.Combine(Context, "t"), "-cf", Path.Combine(Context, "files.tar"), "inner.txt");

        var (code, stdout, stderr) = Build("-t", "every:1", "-t", "every:2");
        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("STEP 1/19: FROM scratch", lines[0]);
        Assert.Contains("STEP 4/19: LABEL maintainer=\"lab\" version=1", lines);
        Assert.Contains("COMMIT every:1 every:2", lines);
        Assert.Contains("Successfully tagged localhost/every:1", lines);
        Assert.Contains("Successfully tagged localhost/every:2", lines);
        Assert.Matches("^[0-9a-f]{64}$", lines[^1]);
        Assert.Matches("^--> [0-9a-f]{11}$", lines[^4]);

        var config = Inspect("every:1")["Config"]!;
        Assert.Contains("APP=/app", config["Env"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.Contains("GREETING=hello there", config["Env"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.Equal("/app", config["WorkingDir"]!.GetValue<string>());
        Assert.Equal("1000:1000", config["User"]!.GetValue<string>());
        Assert.Equal("lab", config["Labels"]!["maintainer"]!.GetValue<string>());
        Assert.Equal("1", config["Labels"]!["version"]!.GetValue<string>());
        Assert.NotNull(config["ExposedPorts"]!["8080/tcp"]);
        Assert.NotNull(config["ExposedPorts"]!["53/udp"]);
        Assert.NotNull(config["Volumes"]!["/data"]);
        Assert.Equal("SIGINT", config["StopSignal"]!.GetValue<string>());
        Assert.Equal(["/bin/sh", "-c"], config["Entrypoint"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.Equal(["cat /app/built.txt"], config["Cmd"]!.AsArray().Select(e => e!.GetValue<string>()));

        // The config blob itself holds what inspect may not show.
        string raw = _wharf.Check("inspect", "--format", "{{.Id}}", "every:1").Trim();
        var blob = JsonNode.Parse(File.ReadAllText(Path.Combine(_wharf.GraphRoot, "wharf", "blobs", "sha256", raw)))!["config"]!;
        Assert.Equal(["CMD-SHELL", "cat /app/built.txt"], blob["Healthcheck"]!["Test"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.Equal(30_000_000_000, blob["Healthcheck"]!["Interval"]!.GetValue<long>());
        Assert.Equal(["RUN echo child"], blob["OnBuild"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.Equal(["/bin/sh", "-c"], blob["Shell"]!.AsArray().Select(e => e!.GetValue<string>()));

        Assert.Equal("hello there\n", RunIn("every:1"));
        Assert.Equal("a\nb\ninner\n", RunIn("every:1", "cat a.txt b.txt /unpacked/inner.txt"));
        Assert.Equal("1000 1000 600\n", RunIn("every:1", "stat -c '%u %g %a' owned.txt"));

        // Metadata steps add history only: busybox, the install RUN, the COPY, the ADD, the chown COPY and the RUN.
        var layers = Inspect("every:1")["RootFS"]!["Layers"]!.AsArray();
        Assert.Equal(6, layers.Count);
    }

    [Fact]
    public void Build_Rebuild_UsesCacheAndChangedFileRebuildsFromItsStep()
    {
        Write("Dockerfile", Base + "COPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\nCOPY c.txt /c.txt\n");
        Write("a.txt", "one\n");
        Write("c.txt", "c\n");
        var first = Build("-t", "cached");
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.DoesNotContain("Using cache", first.Stdout, StringComparison.Ordinal);
        string firstId = first.Stdout.Trim().Split('\n')[^1];

        var second = Build("-t", "cached");
        Assert.Equal(5, second.Stdout.Split('\n').Count(l => l.StartsWith("--> Using cache ", StringComparison.Ordinal)));
        Assert.Equal(firstId, second.Stdout.Trim().Split('\n')[^1]);

        Write("a.txt", "two\n");
        var third = Build("-t", "cached");
        var lines = third.Stdout.Split('\n');
        int copyStep = Array.FindIndex(lines, l => l.StartsWith("STEP 4/6: COPY a.txt", StringComparison.Ordinal));
        Assert.Equal(2, lines[..copyStep].Count(l => l.StartsWith("--> Using cache", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines[copyStep..], l => l.StartsWith("--> Using cache", StringComparison.Ordinal));
        Assert.Equal("two\n", RunIn("cached", "cat", "/b.txt"));

        var noCache = Build("--no-cache", "-t", "cached");
        Assert.DoesNotContain("Using cache", noCache.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_ArgScoping_GlobalOnlyInFromStageArgsInRun()
    {
        Write("Dockerfile", """
            ARG BASE=scratch
            ARG GLOBAL=g
            FROM ${BASE}
            COPY busybox /bin/busybox
            RUN ["/bin/busybox", "--install", "-s", "/bin"]
            RUN echo "global=[$GLOBAL]" > /out
            ARG GLOBAL
            ARG LOCAL=default
            ARG UNSET
            RUN echo "global=[$GLOBAL] local=[$LOCAL] unset=[${UNSET:-none}]" >> /out
            ENV FROMARG=${LOCAL}
            """);
        var (code, _, stderr) = Build("--build-arg", "LOCAL=given", "--build-arg", "NOTUSED=1", "-t", "args");
        Assert.True(code == 0, stderr);
        Assert.Contains("[Warning] one or more build args were not consumed: [NOTUSED]", stderr, StringComparison.Ordinal);
        Assert.Equal("global=[]\nglobal=[g] local=[given] unset=[none]\n", RunIn("args", "cat", "/out"));
        var env = Inspect("args")["Config"]!["Env"]!.AsArray().Select(e => e!.GetValue<string>()).ToList();
        Assert.Contains("FROMARG=given", env);
        Assert.DoesNotContain(env, e => e.StartsWith("LOCAL=", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_MultiStage_CopiesFromStageAndTagsOnlyTarget()
    {
        Write("Containerfile", Base.Replace("FROM scratch", "FROM scratch AS tools", StringComparison.Ordinal) + """
            RUN echo built > /artifact
            FROM tools AS second
            RUN echo second > /second
            FROM scratch
            COPY --from=tools /bin/busybox /bin/busybox
            COPY --from=0 /artifact /from-tools
            COPY --from=second /second /second
            CMD ["/bin/busybox", "cat", "/from-tools", "/second"]
            """);
        Write("Dockerfile", "FROM nothing-here\n");
        var (code, stdout, stderr) = Build("-t", "multi");
        Assert.True(code == 0, stderr);
        Assert.Contains("[3/3] COMMIT multi", stdout, StringComparison.Ordinal);
        Assert.Equal("built\nsecond\n", _wharf.Check("run", "--rm", "multi"));
        Assert.Equal(3, Inspect("multi")["RootFS"]!["Layers"]!.AsArray().Count);

        var target = Build("--target", "second", "-t", "onlysecond");
        Assert.True(target.ExitCode == 0, target.Stderr);
        Assert.DoesNotContain("[3/3]", target.Stdout, StringComparison.Ordinal);
        Assert.Equal("second\n", RunIn("onlysecond", "cat", "/second"));
    }

    [Fact]
    public void Build_FromImageGzipAddEscapeDirectiveAndShell_Work()
    {
        Write("Dockerfile", "FROM scratch\nCOPY a.txt /a\n");
        Write("a.txt", "from the image\n");
        Assert.Equal(0, Build("-t", "src:1").ExitCode);
        File.Delete(Path.Combine(Context, "Dockerfile"));

        Directory.CreateDirectory(Path.Combine(Context, "t"));
        File.WriteAllText(Path.Combine(Context, "t", "z.txt"), "zipped\n");
        Tools.Check("tar", "-C", Path.Combine(Context, "t"), "-czf", Path.Combine(Context, "t.tgz"), "z.txt");
        Write("Containerfile", "# escape=`\n" + Base + """
            COPY --from=localhost/src:1 /a /from-image
            ADD t.tgz /gz/
            SHELL ["/bin/sh", "-ec"]
            RUN echo one `
                two > /joined
            CMD cat /from-image /gz/z.txt /joined
            """);
        var (code, _, stderr) = _wharf.Run("image", "build", "-t", "misc", Context);
        Assert.True(code == 0, stderr);
        Assert.Equal("from the image\nzipped\none two\n", _wharf.Check("run", "--rm", "misc"));
        var cmd = Inspect("misc")["Config"]!["Cmd"]!.AsArray().Select(e => e!.GetValue<string>());
        Assert.Equal(["/bin/sh", "-ec", "cat /from-image /gz/z.txt /joined"], cmd);
    }

    [Fact]
    public void Build_FileFlagAndNetworkNone_RunHasOnlyLoopback()
    {
        Write("ci/Build.containerfile", Base + "RUN ls /sys/class/net > /ifaces\n");
        var (code, _, stderr) = Build("-f", Path.Combine(Context, "ci", "Build.containerfile"), "--network", "none", "-t", "isolated");
        Assert.True(code == 0, stderr);
        Assert.Equal("lo\n", RunIn("isolated", "cat", "/ifaces"));
    }

    [Fact]
    public void Build_FromImageWithOnBuild_RunsTriggersAndDropsThem()
    {
        Write("Dockerfile", Base + "ONBUILD COPY a.txt /triggered\nONBUILD RUN echo ran > /ran\n");
        Write("a.txt", "copied by trigger\n");
        Assert.Equal(0, Build("-t", "parent").ExitCode);
        Write("Dockerfile", "FROM localhost/parent:latest\nCMD [\"cat\", \"/triggered\", \"/ran\"]\n");
        var (code, stdout, stderr) = Build("-t", "child");
        Assert.True(code == 0, stderr);
        Assert.Contains("--> Running ONBUILD trigger: RUN echo ran > /ran", stdout, StringComparison.Ordinal);
        Assert.Equal("copied by trigger\nran\n", _wharf.Check("run", "--rm", "child"));
        string id = _wharf.Check("inspect", "--format", "{{.Id}}", "child").Trim();
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_wharf.GraphRoot, "wharf", "blobs", "sha256", id)))!["config"]!;
        Assert.Null(config["OnBuild"]);
    }

    [Fact]
    public void Build_FailingRun_NamesLineAndExitCodeAndTagsNothing()
    {
        Write("Dockerfile", Base + "RUN echo before\nRUN exit 7\nRUN echo after\n");
        var (code, stdout, stderr) = Build("-t", "failed");
        Assert.Equal(7, code);
        Assert.Contains("Dockerfile:5: RUN exit 7 exited with status 7", stderr, StringComparison.Ordinal);
        Assert.Contains("Error: building at STEP \"RUN /bin/sh -c exit 7\": while running runtime: exit status 7", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Successfully tagged", stdout, StringComparison.Ordinal);
        Assert.NotEqual(0, _wharf.Run("inspect", "failed").ExitCode);
        Assert.Empty(_wharf.Check("ps", "-a", "-q").Trim());
    }

    [Fact]
    public void Build_CopyMissingFile_Fails()
    {
        Write("Dockerfile", "FROM scratch\nCOPY nothere /x\n");
        var (code, _, stderr) = Build("-t", "missing");
        Assert.Equal(125, code);
        Assert.Contains("copier: stat: \"/nothere\": no such file or directory", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("COPY ../outside /x")]
    [InlineData("COPY link /x")]
    [InlineData("COPY linkdir/file /x")]
    public void Build_CopyOutsideContext_Refused(string instruction)
    {
        string outside = Path.Combine(_wharf.Dir, "outside");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "file"), "secret\n");
        File.CreateSymbolicLink(Path.Combine(Context, "link"), Path.Combine(outside, "file"));
        File.CreateSymbolicLink(Path.Combine(Context, "linkdir"), "../outside");
        Write("Dockerfile", "FROM scratch\n" + instruction + "\n");
        var (code, _, stderr) = Build("-t", "escape");
        Assert.Equal(125, code);
        Assert.Contains("forbidden path outside the build context", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_IgnoreFileAndGlobs_LeaveOutIgnoredFiles()
    {
        Write("Dockerfile", Base + "COPY . /ctx/\nCOPY *.md /docs/\n");
        Write(".dockerignore", "secret*\n**/*.log\n!keep.log\nbusybox\n");
        Write("secret.txt", "no\n");
        Write("sub/x.log", "no\n");
        Write("keep.log", "yes\n");
        Write("a.md", "a\n");
        Write("b.md", "b\n");
        var (code, _, stderr) = Build("-t", "ignored");
        Assert.True(code == 0, stderr);
        string listing = RunIn("ignored", "find", "/ctx", "/docs");
        Assert.DoesNotContain("secret", listing, StringComparison.Ordinal);
        Assert.DoesNotContain("x.log", listing, StringComparison.Ordinal);
        Assert.DoesNotContain("/ctx/busybox", listing, StringComparison.Ordinal);
        Assert.Contains("/ctx/keep.log", listing, StringComparison.Ordinal);
        Assert.Contains("/docs/a.md", listing, StringComparison.Ordinal);
        Assert.Contains("/docs/b.md", listing, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_QuietDockerFormatAndLabel_PrintsOnlyIdAndWritesDockerManifest()
    {
        Write("Dockerfile", Base + "RUN echo run-output\n");
        var (code, stdout, stderr) = Build("-q", "--format", "docker", "--label", "team=hpc", "-t", "quiet");
        Assert.True(code == 0, stderr);
        Assert.Matches("^[0-9a-f]{64}\n$", stdout);
        Assert.Contains("run-output", stderr, StringComparison.Ordinal);
        var image = Inspect("quiet");
        Assert.Equal("application/vnd.docker.distribution.manifest.v2+json", image["ManifestType"]!.GetValue<string>());
        Assert.Equal("hpc", image["Config"]!["Labels"]!["team"]!.GetValue<string>());
    }
}

[CollectionDefinition("build")]
public sealed class BuildCollection;

internal static class BuildTools
{
    public static void Ensure()
    {
        Tools.EnsureTool("podman", "podman");
        Tools.EnsureTool("runc", "runc");
        if (!File.Exists("/bin/busybox"))
        {
            Tools.Run("apt-get", "update", "-qq");
            Tools.Run("apt-get", "install", "-y", "-qq", "busybox-static");
        }
    }
}
