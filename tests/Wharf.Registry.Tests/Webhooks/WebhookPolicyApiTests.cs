using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Webhooks;

/// <summary>Harbor's webhook policy API: who may use it, what it refuses, and that a refusal stores nothing.</summary>
public sealed class WebhookPolicyApiTests : IAsyncLifetime
{
    private const string Policies = "api/v2.0/projects/lab/webhook/policies";
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        foreach (var (user, role) in new[] { ("boss", ProjectRole.ProjectAdmin), ("keeper", ProjectRole.Maintainer), ("dev", ProjectRole.Developer) })
        {
            await _server.CreateUserAsync(user);
            await _server.AddMemberAsync("lab", user, role);
        }

        await _server.CreateUserAsync("stranger");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static object Policy(string name = "ci", string address = "http://127.0.0.1:9/hook", string[]? events = null, string type = "http", string format = "Default") => new
    {
        name,
        event_types = events ?? ["PUSH_ARTIFACT"],
        targets = new[] { new { type, address, auth_header = "Bearer x", skip_cert_verify = false, payload_format = format } },
    };

    [Fact]
    public async Task ProjectAdmin_CreatesReadsUpdatesDeletes()
    {
        using var boss = _server.Client("boss", WharfEndpoint.UserPassword);
        using var created = await boss.PostAsJsonAsync(Policies, Policy());
        await WharfEndpoint.ExpectAsync(created, HttpStatusCode.Created);
        string location = created.Headers.Location!.ToString();
        Assert.Matches(@"^/api/v2\.0/projects/\d+/webhook/policies/\d+$", location);

        using var one = JsonDocument.Parse(await boss.GetStringAsync(new Uri(location, UriKind.Relative)));
        Assert.Equal("ci", one.RootElement.GetProperty("name").GetString());
        Assert.Equal("boss", one.RootElement.GetProperty("creator").GetString());
        Assert.True(one.RootElement.GetProperty("enabled").GetBoolean());
        var target = one.RootElement.GetProperty("targets")[0];
        Assert.Equal("Bearer x", target.GetProperty("auth_header").GetString());
        Assert.Equal("Default", target.GetProperty("payload_format").GetString());

        using var update = await boss.PutAsJsonAsync(new Uri(location, UriKind.Relative), new
        {
            name = "ci",
            enabled = false,
            event_types = new[] { "PULL_ARTIFACT", "SCANNING_COMPLETED" },
            targets = new[] { new { type = "http", address = "https://hooks.example/x", skip_cert_verify = true } },
        });
        await WharfEndpoint.ExpectAsync(update, HttpStatusCode.OK);
        using var list = JsonDocument.Parse(await boss.GetStringAsync(Policies));
        var changed = Assert.Single(list.RootElement.EnumerateArray());
        Assert.False(changed.GetProperty("enabled").GetBoolean());
        Assert.Equal(["PULL_ARTIFACT", "SCANNING_COMPLETED"], changed.GetProperty("event_types").EnumerateArray().Select(e => e.GetString()));

        using var events = JsonDocument.Parse(await boss.GetStringAsync("api/v2.0/projects/lab/webhook/events"));
        Assert.Contains("QUOTA_WARNING", events.RootElement.GetProperty("event_type").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["http"], events.RootElement.GetProperty("notify_type").EnumerateArray().Select(e => e.GetString()));

        using var delete = await boss.DeleteAsync(new Uri(location, UriKind.Relative));
        await WharfEndpoint.ExpectAsync(delete, HttpStatusCode.OK);
        using var gone = await boss.GetAsync(new Uri(location, UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Theory]
    [InlineData("keeper")]
    [InlineData("dev")]
    public async Task OtherMembers_AreForbidden(string user)
    {
        using var admin = _server.Admin();
        using var created = await admin.PostAsJsonAsync(Policies, Policy());
        await WharfEndpoint.ExpectAsync(created, HttpStatusCode.Created);

        using var member = _server.Client(user, WharfEndpoint.UserPassword);
        foreach (string path in new[] { Policies, "api/v2.0/projects/lab/webhook/events", created.Headers.Location!.ToString(), created.Headers.Location + "/executions" })
        {
            using var get = await member.GetAsync(new Uri(path, UriKind.Relative));
            Assert.Equal(HttpStatusCode.Forbidden, get.StatusCode);
        }

        using var post = await member.PostAsJsonAsync(Policies, Policy("mine"));
        Assert.Equal(HttpStatusCode.Forbidden, post.StatusCode);
        using var delete = await member.DeleteAsync(created.Headers.Location);
        Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode);
        using var list = JsonDocument.Parse(await admin.GetStringAsync(Policies));
        Assert.Equal("ci", Assert.Single(list.RootElement.EnumerateArray()).GetProperty("name").GetString());
    }

    [Fact]
    public async Task Outsiders_SeeNoProject_AndAnonymousIsUnauthorized()
    {
        using var stranger = _server.Client("stranger", WharfEndpoint.UserPassword);
        using var hidden = await stranger.GetAsync(Policies);
        Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
        using var anonymous = _server.Client();
        using var post = await anonymous.PostAsJsonAsync(Policies, Policy());
        Assert.True(post.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Unauthorized, post.StatusCode.ToString());
    }

    public static TheoryData<string, string> BadPolicies => new()
    {
        { """{"name":"","event_types":["PUSH_ARTIFACT"],"targets":[{"address":"http://h/x"}]}""", "name is required" },
        { """{"name":"a","event_types":["PUSH_ARTIFACT"],"targets":[]}""", "targets must name at least one" },
        { """{"name":"a","event_types":["PUSH_ARTIFACT"]}""", "targets must name at least one" },
        { """{"name":"a","event_types":[],"targets":[{"address":"http://h/x"}]}""", "event_types must name" },
        { """{"name":"a","event_types":["PUSH_IMAGE"],"targets":[{"address":"http://h/x"}]}""", "unknown event type \"PUSH_IMAGE\"" },
        { """{"name":"a","event_types":["PUSH_ARTIFACT"],"targets":[{"address":"ftp://h/x"}]}""", "not an absolute http or https URL" },
        { """{"name":"a","event_types":["PUSH_ARTIFACT"],"targets":[{"address":"/relative"}]}""", "not an absolute http or https URL" },
        { """{"name":"a","event_types":["PUSH_ARTIFACT"],"targets":[{"address":"http://u:p@h/x"}]}""", "without credentials" },
        { """{"name":"a","event_types":["PUSH_ARTIFACT"],"targets":[{"type":"slack","address":"http://h/x"}]}""", "only http" },
        { """{"name":"a","event_types":["PUSH_ARTIFACT"],"targets":[{"address":"http://h/x","payload_format":"Xml"}]}""", "payload_format \"Xml\"" },
        { """{"name":"a","event_types":["PUSH_ARTIFACT"],"targets":[{"address":"http://h/x","auth_header":"a\nb"}]}""", "auth_header must be printable" },
        { """{"name":"a","event_types":"PUSH_ARTIFACT","targets":[{"address":"http://h/x"}]}""", "invalid JSON body" },
        { """{"name":"a","enabled":"yes","event_types":["PUSH_ARTIFACT"],"targets":[{"address":"http://h/x"}]}""", "invalid JSON body" },
    };

    [Theory]
    [MemberData(nameof(BadPolicies))]
    public async Task BadPolicy_Is400_AndNothingIsStored(string body, string message)
    {
        using var admin = _server.Admin();
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        using var response = await admin.PostAsync(Policies, content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains(message, error.RootElement.GetProperty("errors")[0].GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("[]", await admin.GetStringAsync(Policies));
    }

    [Fact]
    public async Task SecondPolicyOfTheSameName_IsAConflict()
    {
        using var admin = _server.Admin();
        using var first = await admin.PostAsJsonAsync(Policies, Policy());
        await WharfEndpoint.ExpectAsync(first, HttpStatusCode.Created);
        using var second = await admin.PostAsJsonAsync(Policies, Policy(address: "http://127.0.0.1:10/other"));
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        using var list = JsonDocument.Parse(await admin.GetStringAsync(Policies));
        Assert.Single(list.RootElement.EnumerateArray());
    }
}
