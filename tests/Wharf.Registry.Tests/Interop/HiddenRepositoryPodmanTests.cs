using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Interop;

/// <summary>
/// Real podman and skopeo asking for a private repository they may not see, and for ones that do not
/// exist: the same words for all, and those words say a login may help.
/// </summary>
public sealed class HiddenRepositoryPodmanTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private WharfServer _server = null!;
    private Podman _podman = null!;
    private string _host = "";

    public async Task InitializeAsync()
    {
        Assert.True(Podman.IsInstalled, "podman is not installed (test.sh installs it when run as root)");
        Assert.True(Skopeo.IsInstalled, "skopeo is not installed (test.sh installs it when run as root)");
        _server = await WharfServer.StartAsync();
        _host = _server.BaseAddress.Authority;
        _podman = new Podman();
        await _server.CreateProjectAsync("lab");
        await _server.CreateUserAsync("stranger");
        using var admin = _server.Admin();
        await Images.PushImageAsync(admin, "lab/tiny", "1", System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
    }

    public async Task DisposeAsync()
    {
        _podman?.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task PodmanPull_PrivateAndMissing_SameUnauthorizedAnswer()
    {
        var login = await _podman.RunAsync("login", "--tls-verify=false", "-u", "stranger", "-p", "Passw0rdX", _host);
        Assert.True(login.ExitCode == 0, login.ToString());

        var answers = new List<string>();
        foreach (string repository in new[] { "lab/tiny", "lab/none", "nosuch/tiny" })
        {
            var pull = await _podman.RunAsync("pull", "--tls-verify=false", $"{_host}/{repository}:1");
            output.WriteLine($"pull {repository}: {pull}");
            Assert.NotEqual(0, pull.ExitCode);
            Assert.Contains("unauthorized:", pull.Stderr, StringComparison.Ordinal);
            Assert.Contains("needs a login with access to it", pull.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("name unknown", pull.Stderr, StringComparison.OrdinalIgnoreCase);
            answers.Add(pull.Stderr.Replace(repository, "NAME", StringComparison.Ordinal));
        }

        Assert.All(answers, a => Assert.Equal(answers[0], a));
    }

    [Fact]
    public async Task SkopeoInspect_AnonymousPrivateAndMissing_SameUnauthorizedAnswer()
    {
        using var skopeo = new Skopeo();
        var answers = new List<string>();
        foreach (string repository in new[] { "lab/tiny", "lab/none", "nosuch/tiny" })
        {
            var inspect = await skopeo.RunAsync(null, "inspect", "--tls-verify=false", "--no-creds", $"docker://{_host}/{repository}:1");
            output.WriteLine($"inspect {repository}: {inspect}");
            Assert.NotEqual(0, inspect.ExitCode);
            Assert.Contains("unauthorized: pull access to " + repository, inspect.Stderr, StringComparison.Ordinal);
            // skopeo stamps its log line with the time; the message after it is what must match.
            string message = inspect.Stderr[inspect.Stderr.IndexOf("msg=", StringComparison.Ordinal)..];
            answers.Add(message.Replace(repository, "NAME", StringComparison.Ordinal));
        }

        Assert.All(answers, a => Assert.Equal(answers[0], a));
    }
}
