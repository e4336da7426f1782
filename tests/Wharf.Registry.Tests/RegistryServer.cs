using Microsoft.Extensions.DependencyInjection;
using Wharf.Oci;
using Wharf.Testing;

namespace Wharf.Registry.Tests;

/// <summary>
/// wharfd with an open /v2 (<see cref="WharfServer.StartOpenAsync"/>: the production pipeline on
/// Kestrel at port 0), with an anonymous client, for tests of the distribution API itself.
/// </summary>
public sealed class RegistryServer : IAsyncDisposable
{
    private readonly WharfServer _server;

    private RegistryServer(WharfServer server)
    {
        _server = server;
        Client = server.Client();
    }

    public string DataDirectory => _server.DataDirectory;

    public Uri BaseAddress => _server.BaseAddress;

    public HttpClient Client { get; private set; }

    public IServiceProvider Services => _server.Services;

    public static async Task<RegistryServer> StartAsync(Action<IServiceCollection>? configureServices = null, string? dataDirectory = null) =>
        new(await WharfServer.StartOpenAsync(configureServices, dataDirectory));

    /// <summary>Stops the server and starts a new one on the same data directory, as a restart of wharfd would.</summary>
    public async Task RestartAsync()
    {
        Client.Dispose();
        await _server.RestartAsync();
        Client = _server.Client();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _server.DisposeAsync();
    }

    public Task<Digest> PushBlobAsync(string repo, byte[] content) => RegistryPush.PushBlobAsync(Client, repo, content);

    public async Task<(Digest Digest, byte[] Body)> PushImageAsync(string repo, string? tag, params byte[][] layers)
    {
        var image = await RegistryPush.PushImageAsync(Client, repo, tag, layers);
        return (image.Digest, image.Body);
    }

    public Task<HttpResponseMessage> PutManifestAsync(string repo, string reference, byte[] body, string mediaType) =>
        RegistryPush.PutManifestAsync(Client, repo, reference, body, mediaType);

    public static Uri AppendQuery(Uri location, string query) => RegistryPush.AppendQuery(location, query);
}
