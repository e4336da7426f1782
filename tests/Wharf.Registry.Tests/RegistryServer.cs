using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Wharf.Oci;

namespace Wharf.Registry.Tests;

/// <summary>A real wharf registry on Kestrel at 127.0.0.1, port 0, over a temporary data directory.</summary>
public sealed class RegistryServer : IAsyncDisposable
{
    private readonly Action<IServiceCollection>? _configureServices;
    private WebApplication? _app;

    private RegistryServer(string dataDirectory, Action<IServiceCollection>? configureServices)
    {
        DataDirectory = dataDirectory;
        _configureServices = configureServices;
    }

    public string DataDirectory { get; }

    public Uri BaseAddress { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public IServiceProvider Services => _app!.Services;

    public static async Task<RegistryServer> StartAsync(Action<IServiceCollection>? configureServices = null, string? dataDirectory = null)
    {
        var server = new RegistryServer(dataDirectory ?? Directory.CreateTempSubdirectory("wharf-test-").FullName, configureServices);
        await server.StartCoreAsync();
        return server;
    }

    /// <summary>Stops the server and starts a new one on the same data directory, as a restart of wharfd would.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await StartCoreAsync();
    }

    private async Task StartCoreAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Limits.MaxRequestBodySize = 32 * 1024 * 1024);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _configureServices?.Invoke(builder.Services);
        builder.Services.AddWharfRegistry(new ConfigurationBuilder().Build(), o => o.DataDirectory = DataDirectory);
        _app = builder.Build();
        _app.MapWharfRegistry();
        await _app.StartAsync();
        string address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
        Client = new HttpClient { BaseAddress = BaseAddress };
    }

    private async Task StopAsync()
    {
        Client?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    // ---- protocol helpers used by the tests ---------------------------------------------------

    public async Task<Digest> PushBlobAsync(string repo, byte[] content)
    {
        var digest = Digest.Compute(content);
        using var post = await Client.PostAsync($"/v2/{repo}/blobs/uploads/", null);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, post.StatusCode);
        var location = post.Headers.Location!;
        using var put = await Client.PutAsync(AppendQuery(location, "digest=" + digest), new ByteArrayContent(content));
        Assert.Equal(System.Net.HttpStatusCode.Created, put.StatusCode);
        return digest;
    }

    public async Task<(Digest Digest, byte[] Body)> PushImageAsync(string repo, string? tag, params byte[][] layers)
    {
        var config = Encoding.UTF8.GetBytes("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
        var configDigest = await PushBlobAsync(repo, config);
        var layerDescs = new List<string>();
        foreach (var layer in layers)
        {
            var d = await PushBlobAsync(repo, layer);
            layerDescs.Add($"{{\"mediaType\":\"{MediaTypes.OciLayerGzip}\",\"digest\":\"{d}\",\"size\":{layer.Length}}}");
        }

        string json = $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{configDigest}\",\"size\":{config.Length}}},\"layers\":[{string.Join(',', layerDescs)}]}}";
        var body = Encoding.UTF8.GetBytes(json);
        var digest = Digest.Compute(body);
        using var resp = await PutManifestAsync(repo, tag ?? digest.ToString(), body, MediaTypes.OciManifest);
        Assert.Equal(System.Net.HttpStatusCode.Created, resp.StatusCode);
        return (digest, body);
    }

    public Task<HttpResponseMessage> PutManifestAsync(string repo, string reference, byte[] body, string mediaType)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(mediaType);
        return Client.PutAsync($"/v2/{repo}/manifests/{reference}", content);
    }

    public static Uri AppendQuery(Uri location, string query)
    {
        string s = location.OriginalString;
        return new Uri(s + (s.Contains('?', StringComparison.Ordinal) ? "&" : "?") + query, UriKind.RelativeOrAbsolute);
    }
}
