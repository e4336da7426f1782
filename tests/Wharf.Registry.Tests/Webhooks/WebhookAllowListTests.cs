using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Webhooks;

/// <summary>
/// <c>Webhooks:AllowedNetworks</c> on a real server and a real receiver: an address literal outside the
/// list is refused when the policy is saved; a host name that resolves outside it is refused when
/// posting (the receiver sees nothing, the task log says why); inside it the delivery goes through, to
/// the permitted one of the name's addresses.
/// </summary>
public sealed class WebhookAllowListTests : IAsyncLifetime
{
    private WebhookReceiver _receiver = null!;

    public async Task InitializeAsync() => _receiver = await WebhookReceiver.StartAsync();

    public async Task DisposeAsync() => await _receiver.DisposeAsync();

    private static Task<WharfServer> ServerAsync(string network) => WharfServer.StartAsync(new Dictionary<string, string?>
    {
        ["Webhooks:AllowedNetworks:0"] = network,
        ["Webhooks:MaxAttempts"] = "1",
    });

    private static async Task<HttpResponseMessage> CreateAsync(HttpClient admin, string address) =>
        await admin.PostAsJsonAsync(new Uri("api/v2.0/projects/lab/webhook/policies", UriKind.Relative), new
        {
            name = "hook",
            event_types = new[] { "PUSH_ARTIFACT" },
            targets = new[] { new { type = "http", address } },
        });

    private static async Task<JsonElement> TaskWhenDoneAsync(HttpClient admin, long policy)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            using var executions = JsonDocument.Parse(await admin.GetStringAsync(new Uri($"api/v2.0/projects/lab/webhook/policies/{policy}/executions", UriKind.Relative)));
            if (executions.RootElement.EnumerateArray().FirstOrDefault() is { ValueKind: JsonValueKind.Object } e && e.GetProperty("status").GetString() is "Success" or "Error")
            {
                using var tasks = JsonDocument.Parse(await admin.GetStringAsync(new Uri($"api/v2.0/projects/lab/webhook/policies/{policy}/executions/{e.GetProperty("id").GetInt64()}/tasks", UriKind.Relative)));
                return tasks.RootElement[0].Clone();
            }

            Assert.True(DateTime.UtcNow < deadline, "the delivery did not finish");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task OutsideTheList_LiteralRefusedAtSave_NameRefusedAtDelivery()
    {
        await using var server = await ServerAsync("192.0.2.0/24");
        await server.CreateProjectAsync("lab");
        using var admin = server.Admin();

        using (var literal = await CreateAsync(admin, _receiver.Address.ToString()))
        {
            await WharfEndpoint.ExpectAsync(literal, HttpStatusCode.BadRequest);
            Assert.Contains("Webhooks:AllowedNetworks", await literal.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal(0, (await admin.GetFromJsonAsync<JsonElement>(new Uri("api/v2.0/projects/lab/webhook/policies", UriKind.Relative))).GetArrayLength());

        using var byName = await CreateAsync(admin, $"http://localhost:{_receiver.Address.Port}/hook");
        await WharfEndpoint.ExpectAsync(byName, HttpStatusCode.Created);
        long policy = long.Parse(byName.Headers.Location!.ToString().Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
        await server.SeedImageAsync("lab/app", "v1");

        var task = await TaskWhenDoneAsync(admin, policy);
        Assert.Equal("Error", task.GetProperty("status").GetString());
        string log = await admin.GetStringAsync(new Uri(
            $"api/v2.0/projects/lab/webhook/policies/{policy}/executions/{task.GetProperty("execution_id").GetInt64()}/tasks/{task.GetProperty("id").GetInt64()}/log", UriKind.Relative));
        Assert.Contains("outside the networks webhooks may post to", log, StringComparison.Ordinal);
        Assert.Empty(_receiver.Received);
    }

    [Fact]
    public async Task InsideTheList_NameIsDelivered_ToItsPermittedAddress()
    {
        await using var server = await ServerAsync("127.0.0.0/8");
        await server.CreateProjectAsync("lab");
        using var admin = server.Admin();

        // localhost may resolve to ::1 first; only 127.0.0.1 is permitted, and that is where the receiver listens.
        using var created = await CreateAsync(admin, $"http://localhost:{_receiver.Address.Port}/hook");
        await WharfEndpoint.ExpectAsync(created, HttpStatusCode.Created);
        await server.SeedImageAsync("lab/app", "v1");

        Assert.Contains("\"PUSH_ARTIFACT\"", Assert.Single(await _receiver.WaitForAsync(1)).Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MalformedNetwork_StopsTheServerAtStart()
    {
        var e = await Assert.ThrowsAnyAsync<Exception>(() => ServerAsync("10.0.0.0/33"));
        Assert.Contains("Webhooks:AllowedNetworks", e.ToString(), StringComparison.Ordinal);
    }
}
