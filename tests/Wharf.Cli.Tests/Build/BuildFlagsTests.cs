using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Cli.Tests.Containers;
using Wharf.Cli.Tests.Rootless;

namespace Wharf.Cli.Tests.Build;

/// <summary>
/// podman 4.3's build flags as scripts use them, one test per flag family, each built by wharf and
/// (where podman is the reference) by real podman with a private store, and compared.
/// </summary>
[Collection("build")]
public sealed partial class BuildFlagsTests : IDisposable
{
    private static readonly string[] Ulimits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

    private readonly WharfProcess _wharf = new();

    public BuildFlagsTests()
    {
        BuildTools.Ensure();
        Context = Path.Combine(_wharf.Dir, "ctx");
        Directory.CreateDirectory(Context);
        File.Copy("/bin/busybox", Path.Combine(Context, "busybox"));
    }

    private string Context { get; }

    private string PodmanDir => Path.Combine(_wharf.Dir, "podman");

    private string[] PodmanGlobals =>
        ["--root", Path.Combine(PodmanDir, "storage"), "--runroot", Path.Combine(PodmanDir, "run"), "--tmpdir", Path.Combine(PodmanDir, "tmp"), "--storage-driver", "vfs", "--runtime", "runc"];

    public void Dispose()
    {
        if (Directory.Exists(PodmanDir))
        {
            Tools.Run("podman", [.. PodmanGlobals, "system", "reset", "-f"]);
        }

        _wharf.Dispose();
    }

    private (int ExitCode, string Stdout, string Stderr) Podman(params string[] args) => Tools.Run("podman", [.. PodmanGlobals, .. args]);

    private (int ExitCode, string Stdout, string Stderr) PodmanIn(string stdin, params string[] args) => Tools.RunIn(stdin, "podman", [.. PodmanGlobals, .. args]);

    private string PodmanCheck(params string[] args)
    {
        var (code, stdout, stderr) = Podman(args);
        Assert.True(code == 0, $"podman {string.Join(' ', args)} exited {code}: {stderr}");
        return stdout;
    }

    private void Write(string name, string text) => File.WriteAllText(Path.Combine(Context, name), text);

    /// <summary>wharf with <paramref name="stdin"/> written to its standard input.</summary>
    private (int ExitCode, string Stdout, string Stderr) WharfIn(string stdin, params string[] args)
    {
        using var p = Process.Start(_wharf.StartInfo(args))!;
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"wharf {string.Join(' ', args)} did not finish in 3 minutes");
        }

        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [GeneratedRegex("[0-9a-f]{11,64}")]
    private static partial Regex Hex();

    /// <summary>The lines podman and wharf both print (steps, commits, IDs, tags), IDs blanked.</summary>
    private static List<string> StepLines(string stdout) =>
        [.. stdout.Split('\n')
            .Where(l => Regex.IsMatch(l, @"^(\[\d+/\d+\] )?(STEP |COMMIT|--> |Successfully tagged )"))
            .Select(l => Hex().Replace(l, "ID"))];

    private JsonObject WharfImage(string name) => JsonNode.Parse(_wharf.Check("inspect", name))!.AsArray()[0]!.AsObject();

    private JsonObject PodmanImage(string name) => JsonNode.Parse(PodmanCheck("image", "inspect", name))!.AsArray()[0]!.AsObject();

    /// <summary>(created_by, empty_layer) of each history entry, from the image's config blob.</summary>
    private static List<string> History(JsonObject image) =>
        [.. image["History"]!.AsArray().Select(h => $"{h!["created_by"]?.GetValue<string>()} empty={h["empty_layer"]?.GetValue<bool>() ?? false}")];

    [Fact]
    public void Build_ContainerfileOnStdinWithIidfile_SameLinesAsPodman()
    {
        string containerfile = BuildTests.Base + "RUN echo hi > /x\nCMD [\"cat\", \"/x\"]\n";
        string wharfIid = Path.Combine(_wharf.Dir, "wharf.iid"), podmanIid = Path.Combine(_wharf.Dir, "podman.iid");

        var wharf = WharfIn(containerfile, "build", "-f", "-", "--iidfile", wharfIid, "-t", "stdin:1", Context);
        var podman = PodmanIn(containerfile, ["build", .. Ulimits, "-f", "-", "--iidfile", podmanIid, "-t", "stdin:1", Context]);

        Assert.True(wharf.ExitCode == 0, wharf.Stderr);
        Assert.True(podman.ExitCode == 0, podman.Stderr);
        Assert.Equal(StepLines(podman.Stdout), StepLines(wharf.Stdout));
        string id = wharf.Stdout.Trim().Split('\n')[^1];
        Assert.Equal("sha256:" + id, File.ReadAllText(wharfIid));
        Assert.Matches("^sha256:[0-9a-f]{64}$", File.ReadAllText(podmanIid));
        Assert.Equal("hi\n", _wharf.Check("run", "--rm", "stdin:1"));
    }

    [Fact]
    public void Build_LabelAndAnnotation_LabelStepsAndManifestAnnotationsAsPodman()
    {
        Write("Containerfile", BuildTests.Base + "LABEL z=1\n");
        string[] flags = ["--label", "b=2", "--label", "a=1", "--annotation", "org.example.k=v", "-t", "meta:1", Context];

        var wharf = _wharf.Run(["build", .. flags]);
        var podman = Podman(["build", .. Ulimits, .. flags]);

        Assert.True(wharf.ExitCode == 0, wharf.Stderr);
        Assert.True(podman.ExitCode == 0, podman.Stderr);
        Assert.Equal(StepLines(podman.Stdout), StepLines(wharf.Stdout));
        Assert.Contains("STEP 5/6: LABEL \"b\"=\"2\"", wharf.Stdout, StringComparison.Ordinal);
        var w = WharfImage("meta:1");
        var p = PodmanImage("meta:1");
        var podmanLabels = p["Labels"]!.AsObject().Where(l => l.Key != "io.buildah.version").ToDictionary(l => l.Key, l => l.Value!.GetValue<string>());
        var wharfLabels = w["Labels"]!.AsObject().ToDictionary(l => l.Key, l => l.Value!.GetValue<string>());
        Assert.Equal(podmanLabels, wharfLabels);
        Assert.Equal("v", w["Annotations"]!["org.example.k"]!.GetValue<string>());
        Assert.Equal("v", p["Annotations"]!["org.example.k"]!.GetValue<string>());
        Assert.Equal(History(p)[^3..], History(w)[^3..]);
    }

    [Fact]
    public void Build_SquashAndSquashAll_LayersAndHistoryAsPodman()
    {
        Write("Containerfile", BuildTests.Base);
        _wharf.Check("build", "-q", "-t", "squashbase:1", Context);
        PodmanCheck(["build", .. Ulimits, "-q", "-t", "squashbase:1", Context]);
        File.Delete(Path.Combine(Context, "Containerfile"));
        Write("Containerfile", "FROM localhost/squashbase:1\nRUN echo a > /a\nRUN rm /bin/cat && echo b > /b\nLABEL squashed=yes\n");

        foreach (string mode in new[] { "--squash", "--squash-all" })
        {
            string tag = "sq" + mode.Length + ":1";
            var wharf = _wharf.Run("build", mode, "-t", tag, Context);
            var podman = Podman(["build", .. Ulimits, mode, "-t", tag, Context]);
            Assert.True(wharf.ExitCode == 0, wharf.Stderr);
            Assert.True(podman.ExitCode == 0, podman.Stderr);
            Assert.Equal(StepLines(podman.Stdout), StepLines(wharf.Stdout));

            var w = WharfImage(tag);
            var p = PodmanImage(tag);
            Assert.Equal(p["RootFS"]!["Layers"]!.AsArray().Count, w["RootFS"]!["Layers"]!.AsArray().Count);
            Assert.Equal(History(p).Select(h => h.EndsWith("empty=True", StringComparison.Ordinal)), History(w).Select(h => h.EndsWith("empty=True", StringComparison.Ordinal)));
            Assert.Equal("a\nb\nno-cat\n", _wharf.Check("run", "--rm", tag, "sh", "-c", "cat /a /b; test -e /bin/cat || echo no-cat"));
        }

        Assert.Equal(3, WharfImage("sq8:1")["RootFS"]!["Layers"]!.AsArray().Count);
        Assert.Single(WharfImage("sq12:1")["RootFS"]!["Layers"]!.AsArray());

        var both = _wharf.Run("build", "--squash", "--squash-all", Context);
        var podmanBoth = Podman("build", "--squash", "--squash-all", Context);
        Assert.Equal(125, both.ExitCode);
        Assert.Equal(podmanBoth.Stderr.Trim().Split('\n')[^1], both.Stderr.Trim());
        Assert.Equal(125, _wharf.Run("build", "--squash", "--layers", Context).ExitCode);
    }

    [Fact]
    public void Build_SquashAsUnprivilegedUser_OverlayInItsNamespaceMakesOneNewLayer()
    {
        using var user = new RootlessUser.Session(RootlessUser.WithRanges);
        string context = Path.Combine(user.Data, "ctx");
        Directory.CreateDirectory(context);
        File.Copy("/bin/busybox", Path.Combine(context, "busybox"));
        File.WriteAllText(Path.Combine(context, "Containerfile"), BuildTests.Base);
        Tools.Check("chown", "-R", $"{user.Uid}:{user.Gid}", context);
        user.Check("build", "-q", "-t", "rootbase:1", context);
        File.WriteAllText(Path.Combine(context, "Containerfile"), "FROM localhost/rootbase:1\nRUN echo a > /a\nRUN rm /bin/cat\n");

        user.Check("build", "--squash", "-t", "rootsq:1", context);

        Assert.Equal("a\nno-cat\n", user.Check("run", "--rm", "rootsq:1", "sh", "-c", "cat /a; test -e /bin/cat || echo no-cat"));
        var image = JsonNode.Parse(user.Check("inspect", "rootsq:1"))!.AsArray()[0]!;
        Assert.Equal(3, image["RootFS"]!["Layers"]!.AsArray().Count);
    }

    [Fact]
    public void Build_LayersFalseAndNoCache_NoIntermediatesNoCacheSameLinesAsPodman()
    {
        Write("Containerfile", BuildTests.Base + "RUN echo one > /one\nENV K=v\n");

        var wharf = _wharf.Run("build", "--layers=false", "-t", "nolayers:1", Context);
        var podman = Podman(["build", .. Ulimits, "--layers=false", "-t", "nolayers:1", Context]);

        Assert.True(wharf.ExitCode == 0, wharf.Stderr);
        Assert.True(podman.ExitCode == 0, podman.Stderr);
        Assert.Equal(StepLines(podman.Stdout), StepLines(wharf.Stdout));
        Assert.Single(_wharf.Check("images", "-a", "-q").Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(3, WharfImage("nolayers:1")["RootFS"]!["Layers"]!.AsArray().Count);

        // Nothing was cached: a second build with layers runs every step, then a third reuses them; --no-cache does not.
        var second = _wharf.Run("build", "-t", "nolayers:2", Context);
        Assert.DoesNotContain("Using cache", second.Stdout, StringComparison.Ordinal);
        var third = _wharf.Run("build", "-t", "nolayers:3", Context);
        Assert.Equal(4, third.Stdout.Split('\n').Count(l => l.StartsWith("--> Using cache", StringComparison.Ordinal)));
        var noCache = _wharf.Run("build", "--no-cache", "-t", "nolayers:4", Context);
        Assert.True(noCache.ExitCode == 0, noCache.Stderr);
        Assert.DoesNotContain("Using cache", noCache.Stdout, StringComparison.Ordinal);
        Assert.Equal("one\n", _wharf.Check("run", "--rm", "nolayers:1", "cat", "/one"));
    }

    [Fact]
    public async Task Build_AddUrl_SavedAsPodmanDoesWithNameMtimeModeAndOwner()
    {
        byte[] tgz = Gzip("not unpacked");
        var modified = new DateTimeOffset(2020, 1, 2, 3, 4, 5, TimeSpan.Zero);
        await using var server = await FileServer.StartAsync(new Dictionary<string, byte[]>
        {
            ["/files/remote.txt"] = Encoding.UTF8.GetBytes("remote content\n"),
            ["/files/archive.tgz"] = tgz,
        }, modified);
        Write("Containerfile", BuildTests.Base + $"""
            ADD {server.Url}/files/remote.txt /dl/
            ADD {server.Url}/files/archive.tgz /dl/
            ADD --chown=10:20 --chmod=640 {server.Url}/files/remote.txt /dl/owned.txt
            """);

        var wharf = _wharf.Run("build", "-t", "addurl:1", Context);
        var podman = Podman(["build", .. Ulimits, "-t", "addurl:1", Context]);

        Assert.True(wharf.ExitCode == 0, wharf.Stderr);
        Assert.True(podman.ExitCode == 0, podman.Stderr);
        Assert.Equal(StepLines(podman.Stdout), StepLines(wharf.Stdout));
        const string Listing = "cd /dl && for f in *; do stat -c '%n %a %u %g %s' $f; done; stat -c '%Y' remote.txt owned.txt";
        string wharfFiles = _wharf.Check("run", "--rm", "addurl:1", "sh", "-c", Listing);
        string podmanFiles = PodmanCheck(["run", "--rm", .. Ulimits, "localhost/addurl:1", "sh", "-c", Listing]);
        Assert.Equal(podmanFiles, wharfFiles);
        Assert.Equal($"archive.tgz 600 0 0 {tgz.Length}\nowned.txt 640 10 20 15\nremote.txt 600 0 0 15\n{modified.ToUnixTimeSeconds()}\n{modified.ToUnixTimeSeconds()}\n", wharfFiles);

        Write("Containerfile", "FROM localhost/addurl:1\n" + $"ADD {server.Url}/nothere /x\n");
        var missing = _wharf.Run("build", Context);
        var podmanMissing = Podman(["build", .. Ulimits, Context]);
        Assert.Equal(125, missing.ExitCode);
        Assert.Equal(podmanMissing.Stderr.Trim().Split('\n')[^1], missing.Stderr.Trim().Split('\n')[^1]);
    }

    [Fact]
    public void Build_Secret_MountedForItsStepOnlyAndInNoLayer()
    {
        string secret = "s3cr3t-" + Guid.NewGuid().ToString("N");
        string secretFile = Path.Combine(_wharf.Dir, "secret.txt");
        File.WriteAllText(secretFile, secret);
        Write("Containerfile", BuildTests.Base + """
            RUN --mount=type=secret,id=mysec cat /run/secrets/mysec > /seen && stat -c '%a %u' /run/secrets/mysec > /mode
            RUN test -e /run/secrets/mysec && echo present > /after || echo gone > /after
            """);

        var (code, stdout, stderr) = _wharf.Run("build", "--secret", $"id=mysec,src={secretFile}", "-t", "secret:1", Context);

        Assert.True(code == 0, stderr);
        Assert.Contains("STEP 4/5: RUN --mount=type=secret,id=mysec cat /run/secrets/mysec", stdout, StringComparison.Ordinal);
        Assert.Equal($"{secret}400 0\ngone\n", _wharf.Check("run", "--rm", "secret:1", "cat", "/seen", "/mode", "/after"));
        string archive = Path.Combine(_wharf.Dir, "secret.tar");
        _wharf.Check("save", "-q", "-o", archive, "secret:1");
        string listing = Tools.Check("sh", "-c", $"d=$(mktemp -d -p '{_wharf.Dir}') && tar -C $d -xf '{archive}' && for f in $(find $d -type f); do (gzip -dc $f 2>/dev/null || cat $f) | tar -t 2>/dev/null; done; true");
        Assert.DoesNotContain("run/secrets/mysec", listing, StringComparison.Ordinal);
        var layerText = Tools.Check("sh", "-c", $"d=$(mktemp -d -p '{_wharf.Dir}') && tar -C $d -xf '{archive}' && for f in $(find $d -type f); do (gzip -dc $f 2>/dev/null || cat $f); done | grep -c '{secret[..12]}' || true");
        Assert.Equal("1\n", layerText); // /seen only, the copy the step made on purpose

        var missing = _wharf.Run("build", "--secret", "id=x,src=/nonexistent-secret", Context);
        var podmanMissing = Podman("build", "--secret", "id=x,src=/nonexistent-secret", Context);
        Assert.Equal(125, missing.ExitCode);
        Assert.Equal(podmanMissing.Stderr.Trim(), missing.Stderr.Trim());
        var malformed = _wharf.Run("build", "--secret", "mysec", Context);
        Assert.Equal(125, malformed.ExitCode);
        Assert.Equal(Podman("build", "--secret", "mysec", Context).Stderr.Trim(), malformed.Stderr.Trim());
    }

    [Fact]
    public void Build_BuildArgFileAndRuntime_ArgsFromFileBuildArgWinsRunStepsUseTheRuntime()
    {
        string argFile = Path.Combine(_wharf.Dir, "args.conf");
        File.WriteAllText(argFile, "# defaults\nA=from-file\n\nB=from-file\n");
        string log = Path.Combine(_wharf.Dir, "runtime.log");
        string wrapper = Path.Combine(_wharf.Dir, "logging-runtime");
        File.WriteAllText(wrapper, $"#!/bin/sh\necho \"$*\" >> '{log}'\nexec runc \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Write("Containerfile", BuildTests.Base + "ARG A\nARG B\nRUN echo \"$A $B\" > /out\n");

        var (code, _, stderr) = _wharf.Run("build", "--build-arg-file", argFile, "--build-arg", "B=from-flag", "--runtime", wrapper, "-t", "args:1", Context);

        Assert.True(code == 0, stderr);
        Assert.Equal("from-file from-flag\n", _wharf.Check("run", "--rm", "args:1", "cat", "/out"));
        Assert.Equal(2, File.ReadAllLines(log).Count(l => l.Contains(" run ", StringComparison.Ordinal)));

        var missing = _wharf.Run("build", "--runtime", "no-such-runtime", Context);
        var podmanMissing = Podman("build", "--runtime", "no-such-runtime", Context);
        Assert.Equal(125, missing.ExitCode);
        Assert.Equal(podmanMissing.Stderr.Trim(), missing.Stderr.Trim());
        Assert.Equal(125, _wharf.Run("build", "--build-arg-file", "/nonexistent-args", Context).ExitCode);
    }

    private static byte[] Gzip(string text)
    {
        using var buffer = new MemoryStream();
        using (var gz = new GZipStream(buffer, CompressionLevel.Fastest))
        {
            gz.Write(Encoding.UTF8.GetBytes(text));
        }

        return buffer.ToArray();
    }

    /// <summary>A Kestrel on 127.0.0.1, port 0, serving fixed files with a Last-Modified header.</summary>
    private sealed class FileServer : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private FileServer(WebApplication app, string url)
        {
            _app = app;
            Url = url;
        }

        public string Url { get; }

        public static async Task<FileServer> StartAsync(IReadOnlyDictionary<string, byte[]> files, DateTimeOffset modified)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            app.Run(async context =>
            {
                if (!files.TryGetValue(context.Request.Path.Value ?? string.Empty, out byte[]? body))
                {
                    context.Response.StatusCode = 404;
                    return;
                }

                context.Response.ContentType = "application/octet-stream";
                context.Response.Headers.LastModified = modified.ToString("R");
                context.Response.ContentLength = body.Length;
                await context.Response.Body.WriteAsync(body);
            });
            await app.StartAsync();
            string url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new FileServer(app, url);
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
