namespace Wharf.Cli.Tests.Containers;

/// <summary>pause/unpause through the runtime's cgroup freezer, and what the other verbs do with a paused container (podman 4.3's answers).</summary>
[Collection("containers")]
public sealed class PauseTests(ContainerFixture fixture) : IDisposable
{
    private static readonly string[] Limits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

    private readonly WharfProcess _wharf = CreatePulled(fixture);

    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];

    private static WharfProcess CreatePulled(ContainerFixture fixture)
    {
        var w = new WharfProcess();
        w.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        return w;
    }

    private (int ExitCode, string Stdout, string Stderr) Podman(params string[] args) =>
        Tools.Run("podman", ["--root", Path.Combine(fixture.Root, "podman", "storage"), "--runroot", Path.Combine(fixture.Root, "podman", "run"), "--tmpdir", Path.Combine(fixture.Root, "podman", "tmp"),
            "--storage-driver", "vfs", "--runtime", "runc", .. args]);

    public void Dispose()
    {
        _wharf.Dispose();
        Podman("rm", "-f", "-t", "0", "--ignore", "pp-" + _suffix, "pc-" + _suffix);
    }

    private string RuncStatus(string id) =>
        System.Text.Json.Nodes.JsonNode.Parse(Tools.Check("runc", "--root", Path.Combine(_wharf.RunRoot, "wharf", "runc"), "state", id))!["status"]!.GetValue<string>();

    private string Inspect(string name, string field) => _wharf.Check("container", "inspect", "--format", "{{" + field + "}}", name).Trim();

    [Fact]
    public void PauseUnpause_FreezeAndThawTheContainer()
    {
        _wharf.Check("run", "-d", "--name", "pz", fixture.Image, "sh", "-c", "while true; do echo tick; sleep 0.1; done");
        string id = Inspect("pz", ".Id");

        Assert.Equal("pz\n", _wharf.Check("pause", "pz"));
        Assert.Equal("paused", RuncStatus(id));
        Assert.Equal("paused true", Inspect("pz", ".State.Status}} {{.State.Paused"));
        Assert.Equal("Paused\n", _wharf.Check("ps", "--format", "{{.Status}}"));

        // Thawed, the loop writes to the log again.
        int before = _wharf.Check("logs", "pz").Length;
        Assert.Equal("pz\n", _wharf.Check("unpause", "pz"));
        Assert.Equal("running", RuncStatus(id));
        for (int i = 0; i < 100 && _wharf.Check("logs", "pz").Length == before; i++)
        {
            Thread.Sleep(100);
        }

        Assert.True(_wharf.Check("logs", "pz").Length > before, "the container did not run again after unpause");
        Assert.Equal("running false", Inspect("pz", ".State.Status}} {{.State.Paused"));
    }

    [Fact]
    public void PausedContainer_OtherVerbsAnswerAsPodman()
    {
        string pp = "pp-" + _suffix, pc = "pc-" + _suffix;
        Assert.Equal(0, Podman(["run", "-d", "--name", pp, .. Limits, "localhost/bb:1", "sleep", "60"]).ExitCode);
        Assert.Equal(0, Podman(["create", "--name", pc, .. Limits, "localhost/bb:1", "true"]).ExitCode);
        Assert.Equal(0, Podman("pause", pp).ExitCode);
        _wharf.Check("run", "-d", "--name", "pp", fixture.Image, "sleep", "60");
        _wharf.Check("create", "--name", "pc", fixture.Image, "true");
        _wharf.Check("pause", "pp");
        string wharfId = Inspect("pp", ".Id"), podmanId = Podman("inspect", "--format", "{{.Id}}", pp).Stdout.Trim();
        string podmanCreatedId = Podman("inspect", "--format", "{{.Id}}", pc).Stdout.Trim();
        string wharfCreatedId = Inspect("pc", ".Id");

        foreach (string[] args in new[] { new[] { "pause", "{0}" }, ["stop", "{0}"], ["rm", "{0}"], ["unpause", "{1}"], ["pause", "{1}"], ["pause", "nosuch"] })
        {
            var p = Podman([.. args.Select(a => a.Replace("{0}", pp, StringComparison.Ordinal).Replace("{1}", pc, StringComparison.Ordinal))]);
            var w = _wharf.Run([.. args.Select(a => a.Replace("{0}", "pp", StringComparison.Ordinal).Replace("{1}", "pc", StringComparison.Ordinal))]);
            Assert.Equal(p.ExitCode, w.ExitCode);
            Assert.Equal(p.Stderr.Replace(podmanId, "ID", StringComparison.Ordinal).Replace(podmanCreatedId, "CID", StringComparison.Ordinal).Trim(),
                w.Stderr.Replace(wharfId, "ID", StringComparison.Ordinal).Replace(wharfCreatedId, "CID", StringComparison.Ordinal).Trim());
        }

        // rm -f thaws and kills it.
        Assert.Equal("pp\n", _wharf.Check("rm", "-f", "pp"));
        Assert.Equal(1, _wharf.Run("container", "exists", "pp").ExitCode);
        Assert.Empty(_wharf.RuncStates);
    }
}
