namespace Wharf.IntegrationTests.Infrastructure;

/// <summary>One registry process shared by the tests of the <see cref="RegistryCollection"/>; each test uses its own repositories.</summary>
public sealed class RegistryFixture : IAsyncLifetime
{
    private readonly TempDirectory _root = new("wharf-it-registry");

    public RegistryServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        try
        {
            Server = await RegistryServer.StartNewAsync(Path.Combine(_root.Path, "data"));
        }
        catch
        {
            // xunit does not dispose a fixture whose initialisation failed: clean up here.
            _root.Dispose();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        _root.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class RegistryCollection : ICollectionFixture<RegistryFixture>
{
    public const string Name = "registry";
}

/// <summary>
/// Gives each test a scratch directory and repository names of its own, and writes what the registry
/// logged during the test into the test output, so a failure comes with the server's side of the story.
/// </summary>
public abstract class RegistryTestBase : IDisposable
{
    private readonly int _logMark;
    private readonly List<Podman> _podmanStores = [];

    protected RegistryTestBase(RegistryFixture fixture, ITestOutputHelper output)
    {
        Server = fixture.Server;
        Output = output;
        Scratch = new TempDirectory("wharf-it-test");
        Skopeo = new Skopeo(output);
        _logMark = Server.LogMark;
    }

    protected RegistryServer Server { get; }

    protected ITestOutputHelper Output { get; }

    protected TempDirectory Scratch { get; }

    protected Skopeo Skopeo { get; }

    /// <summary>A podman with an empty store of its own, removed after the test.</summary>
    protected Podman NewPodman(string name)
    {
        var podman = new Podman(Scratch.Sub($"{name}-{Guid.NewGuid():N}"), Output);
        _podmanStores.Add(podman);
        return podman;
    }

    /// <summary>A repository name no other test uses, e.g. <c>library/it-3f2a9c</c>.</summary>
    protected static string NewRepository(string ns = "library") => $"{ns}/it-{Guid.NewGuid():N}"[..(ns.Length + 14)];

    protected string DockerRef(string repository, string tagOrDigest) =>
        tagOrDigest.StartsWith("sha256:", StringComparison.Ordinal)
            ? $"docker://{Server.Host}/{repository}@{tagOrDigest}"
            : $"docker://{Server.Host}/{repository}:{tagOrDigest}";

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            Output.WriteLine($"--- {Server.Name} log during this test ---");
            Output.WriteLine(Server.LogsSince(_logMark));
            _podmanStores.ForEach(p => p.Dispose());
            Scratch.Dispose();
        }
    }
}
