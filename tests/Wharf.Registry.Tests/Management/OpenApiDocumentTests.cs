using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Management;

public sealed class OpenApiDocumentTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync() => _server = await WharfServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task SwaggerJson_Anonymous_IsAnOpenApi3Document()
    {
        using var client = _server.Client();
        using var response = await client.GetAsync("api/v2.0/swagger.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.StartsWith("3.", document.RootElement.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        Assert.Equal("/api/v2.0", document.RootElement.GetProperty("servers")[0].GetProperty("url").GetString());
    }

    [Fact]
    public async Task SwaggerJson_DescribesEveryMappedRouteAndNothingElse()
    {
        using var client = _server.Client();
        using var document = JsonDocument.Parse(await client.GetStringAsync("api/v2.0/swagger.json"));
        var documented = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in document.RootElement.GetProperty("paths").EnumerateObject())
        {
            foreach (var method in path.Value.EnumerateObject())
            {
                documented.Add($"{method.Name.ToUpperInvariant()} {path.Name}");
                Assert.True(method.Value.TryGetProperty("responses", out _), $"{method.Name} {path.Name} has no responses");
            }
        }

        var mapped = new HashSet<string>(StringComparer.Ordinal);
        foreach (var endpoint in _server.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            string pattern = "/" + endpoint.RoutePattern.RawText!.TrimStart('/');
            if (!pattern.StartsWith("/api/v2.0/", StringComparison.Ordinal))
            {
                continue;
            }

            foreach (string method in endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? [])
            {
                mapped.Add($"{method} {pattern["/api/v2.0".Length..]}");
            }
        }

        Assert.NotEmpty(mapped);
        Assert.Empty(mapped.Except(documented).Order(StringComparer.Ordinal));
        Assert.Empty(documented.Except(mapped).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task SwaggerJson_EveryReferenceResolves()
    {
        using var client = _server.Client();
        string text = await client.GetStringAsync("api/v2.0/swagger.json");
        using var document = JsonDocument.Parse(text);
        var components = document.RootElement.GetProperty("components");
        var references = System.Text.RegularExpressions.Regex.Matches(text, "\"\\$ref\": \"#/components/(\\w+)/([\\w-]+)\"");
        Assert.True(references.Count > 50, $"only {references.Count} references found");
        foreach (System.Text.RegularExpressions.Match match in references)
        {
            Assert.True(components.GetProperty(match.Groups[1].Value).TryGetProperty(match.Groups[2].Value, out _), $"{match.Value} does not resolve");
        }
    }
}
