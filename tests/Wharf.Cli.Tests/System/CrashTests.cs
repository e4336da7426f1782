using System.Diagnostics;
using System.Text.Json.Nodes;
using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests.SystemVerbs;

/// <summary>
/// The store survives a crash: real wharf processes pulling, committing, removing and loading
/// images are SIGKILLed at random instants (fixed seed), and after each kill the store must be
/// as before or as after — never in between.
/// </summary>
[Collection("containers")]
public sealed class CrashTests(ContainerFixture fixture) : IDisposable
{
    private const int Iterations = 24;

    /// <summary>Runs beyond <see cref="Iterations"/> allowed when too many finished before their kill came.</summary>
    private const int MaxIterations = 48;

    private readonly WharfProcess _wharf = new();

    /// <summary>How long each verb took when last run to completion, in milliseconds.</summary>
    private readonly Dictionary<string, int> _durations = [];

    public void Dispose() => _wharf.Dispose();

    private string Blob(string digest) => Path.Combine(_wharf.GraphRoot, "wharf", "blobs", "sha256", digest["sha256:".Length..]);

    /// <summary>Names in the index, read straight from disk (what a listing would show).</summary>
    private List<JsonNode> Index()
    {
        string path = Path.Combine(_wharf.GraphRoot, "wharf", "images.json");
        return File.Exists(path) ? [.. JsonNode.Parse(File.ReadAllText(path))!.AsArray().Select(n => n!)] : [];
    }

    private bool Named(string name) => Index().Any(i => i["names"]!.AsArray().Any(n => n!.GetValue<string>() == name));

    [Fact]
    public void Commands_KilledAtRandomInstants_StoreStaysConsistent()
    {
        _wharf.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        _wharf.Check("run", "--name", "base", fixture.Image, "sh", "-c", "echo changed > /root/f");
        _wharf.Check("commit", "-q", "base", "localhost/saved:1");
        string archive = Path.Combine(_wharf.Dir, "saved.tar");
        _wharf.Check("save", "-o", archive, "localhost/saved:1");

        var random = new Random(23);
        int commits = 0;
        int kills = 0;
        int i = 0;

        // At least Iterations runs, and more (up to MaxIterations) while fewer than half of them
        // were really cut short: a fast machine finishes some verbs before the drawn instant.
        for (; i < Iterations || (kills < Iterations / 2 && i < MaxIterations); i++)
        {
            string op = (i % 4, random.Next(2)) switch
            {
                (0, _) => "pull",
                (1, _) => "commit",
                (2, 0) => "load",
                _ => "rmi",
            };
            string[] args = op switch
            {
                "pull" => ["pull", "-q", "--tls-verify=false", fixture.Image],
                "commit" => ["commit", "-q", "base", $"localhost/c:{++commits}"],
                "load" => ["load", "-q", "-i", archive],
                _ => ["rmi", Named($"localhost/c:{commits}") ? $"localhost/c:{commits}" : "localhost/saved:1"],
            };

            // Somewhere within the command's life, as long as the last complete run of it took.
            int delay = (int)(random.NextDouble() * _durations.GetValueOrDefault(op, 600));
            if (RunAndKill(args, delay, op))
            {
                kills++;
            }

            AssertRecovered(op, args, i);
        }

        // Enough of the runs must really have been cut short for the test to mean anything.
        Assert.True(kills >= Iterations / 2, $"only {kills} of {i} commands were killed before finishing");
    }

    /// <summary>
    /// build (a COPY and a RUN step, content changed each time so nothing comes from the cache)
    /// killed at random instants: its build container, its layers and its image are all or nothing.
    /// </summary>
    [Fact]
    public void Build_KilledAtRandomInstants_StoreStaysConsistent()
    {
        const int builds = 5;
        _wharf.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        string context = Path.Combine(_wharf.Dir, "ctx");
        Directory.CreateDirectory(context);
        File.WriteAllText(Path.Combine(context, "Containerfile"), $"FROM {fixture.Image}\nCOPY data /opt/data\nRUN cat /opt/data/* > /opt/all && rm /opt/d/a\n");
        var random = new Random(2317);
        byte[] payload = new byte[256 * 1024];
        int kills = 0;
        for (int i = 0; i < builds; i++)
        {
            // Fresh bytes every time: the COPY misses the cache and so does the RUN after it.
            string data = Path.Combine(context, "data");
            Directory.CreateDirectory(data);
            for (int f = 0; f < 8; f++)
            {
                random.NextBytes(payload);
                File.WriteAllBytes(Path.Combine(data, $"f{f}"), payload);
            }

            string[] args = ["build", "-q", "--tls-verify=false", "-t", $"localhost/built:{i}", context];
            int delay = (int)(random.NextDouble() * _durations.GetValueOrDefault("build", 1500));
            if (RunAndKill(args, delay, args[0]))
            {
                kills++;
            }

            AssertRecovered("build", args, i);
            RemoveContainers();
        }

        Assert.True(kills >= builds / 2, $"only {kills} of {builds} builds were killed before finishing");
    }

    /// <summary>
    /// The first run of an image pulled without unpacking (WHARF_UNPACK_ON_PULL=0) unpacks its
    /// layers; killed at random instants, no layer directory is ever left half-written under its
    /// chain ID, and removing the image frees every layer again.
    /// </summary>
    [Fact]
    public void Unpack_KilledAtRandomInstants_StoreStaysConsistent()
    {
        const int unpacks = 5;
        var random = new Random(2323);
        int kills = 0;
        for (int i = 0; i < unpacks; i++)
        {
            _wharf.Env["WHARF_UNPACK_ON_PULL"] = "0";
            _wharf.Check("pull", "-q", "--tls-verify=false", fixture.Image);
            _wharf.Env.Remove("WHARF_UNPACK_ON_PULL");
            Assert.Empty(LayerDirs());

            string[] args = ["run", "--rm", fixture.Image, "true"];
            int delay = (int)(random.NextDouble() * _durations.GetValueOrDefault("run", 800));
            if (RunAndKill(args, delay, args[0]))
            {
                kills++;
            }

            AssertRecovered("run", args, i);
            foreach (string layer in LayerDirs())
            {
                Assert.True(File.Exists(Path.Combine(layer, "diffid")), $"iteration {i}: {layer} has no diffid");
            }

            // Nothing uses the layers once the image and its containers are gone: they are freed.
            RemoveContainers();
            _wharf.Check("rmi", fixture.Image);
            Assert.Empty(LayerDirs());
        }

        Assert.True(kills >= unpacks / 2, $"only {kills} of {unpacks} first runs were killed before finishing");
    }

    /// <summary>The unpacked layers under their chain IDs.</summary>
    private string[] LayerDirs()
    {
        string root = Path.Combine(_wharf.GraphRoot, "wharf", "layers");
        return Directory.Exists(root) ? [.. Directory.GetDirectories(root).Where(d => Path.GetFileName(d) is not ("tmp" or "pulled"))] : [];
    }

    /// <summary>What a killed run or build left (a created container, a build container) goes before the next round.</summary>
    private void RemoveContainers()
    {
        foreach (string id in _wharf.Check("ps", "-a", "-q").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            _wharf.Check("rm", "-f", id.Trim());
        }
    }

    /// <summary>Starts wharf with <paramref name="args"/> and SIGKILLs it after <paramref name="delayMs"/>; true when it was still running.</summary>
    /// <remarks>
    /// A run that ended before its kill sets the verb's duration to its own, shorter time: the
    /// next instant is drawn within what the verb really takes now (rmi, for one, is never run again).
    /// </remarks>
    private bool RunAndKill(string[] args, int delayMs, string op)
    {
        var started = Stopwatch.StartNew();
        using var p = Process.Start(_wharf.StartInfo(args))!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        bool killed = false;
        if (!p.WaitForExit(delayMs))
        {
            try
            {
                p.Kill(); // SIGKILL: no handler, no finally block runs
                killed = true;
            }
            catch (InvalidOperationException)
            {
                // It finished in between.
            }
        }
        else
        {
            _durations[op] = (int)started.ElapsedMilliseconds;
        }

        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(2)), $"wharf {string.Join(' ', args)} did not end");
        _ = stdout.Result + stderr.Result;
        return killed;
    }

    private void AssertRecovered(string op, string[] args, int iteration)
    {
        string at = $"after iteration {iteration} ({string.Join(' ', args)})";

        // No lock is left held: the next command goes through at once.
        var listing = Stopwatch.StartNew();
        var images = _wharf.Run("images", "-q");
        Assert.True(images.ExitCode == 0, $"{at}: images exited {images.ExitCode}: {images.Stderr}");
        Assert.True(listing.Elapsed < TimeSpan.FromSeconds(30), $"{at}: images took {listing.Elapsed}");

        // Every image listed has every blob, at the size its manifest gives.
        foreach (var image in Index())
        {
            string manifestPath = Blob(image["digest"]!.GetValue<string>());
            Assert.True(File.Exists(manifestPath), $"{at}: image {image["id"]} has no manifest blob");
            Assert.Equal(image["manifestSize"]!.GetValue<long>(), new FileInfo(manifestPath).Length);
            var manifest = JsonNode.Parse(File.ReadAllBytes(manifestPath))!;
            foreach (var blob in manifest["layers"]!.AsArray().Append(manifest["config"]))
            {
                string path = Blob(blob!["digest"]!.GetValue<string>());
                Assert.True(File.Exists(path), $"{at}: image {image["id"]} lists {blob["digest"]}, which is missing");
                Assert.True(blob["size"]!.GetValue<long>() == new FileInfo(path).Length, $"{at}: blob {blob["digest"]} has the wrong size");
            }
        }

        // The interrupted command, run again, completes (rmi only while its image is still there).
        if (op != "rmi" || Named(args[1]))
        {
            var run = Stopwatch.StartNew();
            var again = _wharf.Run(args);
            _durations[op] = (int)run.ElapsedMilliseconds;
            Assert.True(again.ExitCode == 0, $"{at}: run again, exited {again.ExitCode}: {again.Stderr}");
        }
        else
        {
            _wharf.Check("image", "prune", "-f");
        }

        // And the check finds nothing: no blob whose bytes are not its name, no leftovers.
        var check = _wharf.Run("system", "check");
        Assert.True(check.ExitCode == 0 && check.Stdout.Length == 0, $"{at}: system check exited {check.ExitCode}: {check.Stdout}{check.Stderr}");
    }
}
