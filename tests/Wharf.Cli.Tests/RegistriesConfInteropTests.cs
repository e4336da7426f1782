using Wharf.Client;
using Wharf.Client.Config;

namespace Wharf.Cli.Tests;

/// <summary>wharf resolves the same search registries as real podman from the same files.</summary>
public sealed class RegistriesConfInteropTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-regs-interop-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Load_EnvironmentFileAndUserDropIn_SameSearchRegistriesAsPodman()
    {
        string home = Path.Combine(_dir, "home");
        string dropIns = Path.Combine(home, ".config", "containers", "registries.conf.d");
        Directory.CreateDirectory(dropIns);
        File.WriteAllText(Path.Combine(dropIns, "50-lab.conf"), "unqualified-search-registries = [\"dropin.example\"]\n");
        string chosen = Path.Combine(_dir, "chosen.conf");
        File.WriteAllText(chosen, "unqualified-search-registries = [\"chosen.example\"]\n");

        var podman = Tools.Run("/usr/bin/env", $"HOME={home}", $"CONTAINERS_REGISTRIES_CONF={chosen}", "podman", "info", "--format", "{{json .Registries.search}}");
        var conf = RegistriesConf.Load(new HostEnvironment(k => k == "CONTAINERS_REGISTRIES_CONF" ? chosen : null, home, 0, "/etc/containers"));

        Assert.Equal(0, podman.ExitCode);
        Assert.Equal($"[{string.Join(',', conf.UnqualifiedSearchRegistries.Select(r => $"\"{r}\""))}]", podman.Stdout.Trim());
    }
}
