using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Management;

/// <summary>
/// Wrong JSON types are refused centrally (400 with Harbor's error body, nothing changed), and list
/// paging never wraps around near int.MaxValue.
/// </summary>
public sealed class ApiInputTypeTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private long _devId;
    private long _robotId;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        _devId = await _server.CreateUserAsync("dev");
        await _server.CreateUserAsync("ops");
        await _server.AddMemberAsync("lab", "ops", ProjectRole.Guest);
        (_robotId, _, _) = await _server.CreateRobotAsync("lab", "ci", 30, "pull");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public static TheoryData<string, string, string> WrongTypes => new()
    {
        // A number as a string: the web defaults of System.Text.Json read these as numbers.
        { "POST", "api/v2.0/projects/lab/members", "{\"role_id\":\"1\",\"member_user\":{\"username\":\"dev\"}}" },
        { "POST", "api/v2.0/projects/lab/members", "{\"role_id\":1,\"member_user\":{\"user_id\":\"{dev}\"}}" },
        { "POST", "api/v2.0/projects", "{\"project_name\":\"other\",\"storage_limit\":\"1000\"}" },
        { "POST", "api/v2.0/robots", "{\"name\":\"x\",\"duration\":\"30\",\"level\":\"project\",\"permissions\":[{\"kind\":\"project\",\"namespace\":\"lab\",\"access\":[{\"resource\":\"repository\",\"action\":\"pull\"}]}]}" },
        { "PUT", "api/v2.0/robots/{robot}", "{\"duration\":\"60\"}" },
        { "PUT", "api/v2.0/quotas/1", "{\"hard\":{\"storage\":\"1000\"}}" },

        // A boolean as a string, or as a number.
        { "PUT", "api/v2.0/users/{dev}/sysadmin", "{\"sysadmin_flag\":\"true\"}" },
        { "PUT", "api/v2.0/users/{dev}/disabled", "{\"disabled\":\"true\"}" },
        { "PUT", "api/v2.0/users/{dev}/disabled", "{\"disabled\":1}" },
        { "PUT", "api/v2.0/robots/{robot}", "{\"disable\":\"true\"}" },
        { "POST", "api/v2.0/projects", "{\"project_name\":\"other\",\"public\":\"true\"}" },

        // Other shapes.
        { "POST", "api/v2.0/projects/lab/members", "{\"role_id\":[1],\"member_user\":{\"username\":\"dev\"}}" },
        { "POST", "api/v2.0/projects/lab/members", "{\"role_id\":1,\"member_user\":\"dev\"}" },
        { "POST", "api/v2.0/projects/lab/members", "[{\"role_id\":1,\"member_user\":{\"username\":\"dev\"}}]" },
        { "POST", "api/v2.0/projects/lab/members", "{\"role_id\":1.5,\"member_user\":{\"username\":\"dev\"}}" },
        { "POST", "api/v2.0/users", "{\"username\":[\"eve\"],\"password\":\"Passw0rdX\"}" },
        { "POST", "api/v2.0/users", "{\"username\":\"eve\",\"password\":12345678}" },
        { "PUT", "api/v2.0/users/{dev}", "{\"email\":{\"a\":1}}" },
        { "POST", "api/v2.0/robots", "{\"name\":\"x\",\"level\":\"project\",\"permissions\":{\"kind\":\"project\"}}" },
    };

    [Theory]
    [MemberData(nameof(WrongTypes))]
    public async Task WrongJsonType_Is400WithHarborsErrorBody_AndChangesNothing(string method, string path, string body)
    {
        string before = await StateAsync();
        using var admin = _server.Admin();
        using var request = new HttpRequestMessage(new HttpMethod(method), Fill(path))
        {
            Content = new StringContent(Fill(body), Encoding.UTF8, "application/json"),
        };

        using var response = await admin.SendAsync(request);

        await ErrorAssert.HasErrorAsync(response, HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.Equal(before, await StateAsync());
    }

    [Fact]
    public async Task RightJsonTypes_AreStillAccepted()
    {
        using var admin = _server.Admin();

        using var member = await admin.PostAsJsonAsync("api/v2.0/projects/lab/members", new { role_id = 2, member_user = new { username = "dev" } });
        Assert.Equal(HttpStatusCode.Created, member.StatusCode);
        using var disabled = await admin.PutAsJsonAsync($"api/v2.0/users/{_devId}/disabled", new { disabled = false });
        Assert.Equal(HttpStatusCode.OK, disabled.StatusCode);
    }

    [Theory]
    [InlineData("api/v2.0/users")]
    [InlineData("api/v2.0/users/search?username=d")]
    [InlineData("api/v2.0/projects")]
    [InlineData("api/v2.0/projects/lab/members")]
    [InlineData("api/v2.0/projects/lab/robots")]
    [InlineData("api/v2.0/robots")]
    [InlineData("api/v2.0/quotas")]
    [InlineData("api/v2.0/audit-logs")]
    public async Task List_PageNearIntMax_IsAnEmptyPage(string path)
    {
        using var admin = _server.Admin();
        string separator = path.Contains('?', StringComparison.Ordinal) ? "&" : "?";

        foreach (string page in new[] { "2147483647", "2147483646", "21474837" })
        {
            using var response = await admin.GetAsync($"{path}{separator}page={page}&page_size=100");

            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path} page {page}: {(int)response.StatusCode} {body}");
            Assert.Equal(0, JsonDocument.Parse(body).RootElement.GetArrayLength());
            Assert.DoesNotContain("rel=\"next\"", response.Headers.TryGetValues("Link", out var links) ? string.Join(",", links) : "", StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("page_size=101")]
    [InlineData("page_size=2147483647")]
    [InlineData("page=0")]
    [InlineData("page=-2147483648")]
    [InlineData("page=2147483648")]
    [InlineData("page_size=1e2")]
    public async Task List_BadPaging_Is400(string query)
    {
        using var admin = _server.Admin();

        foreach (string path in new[] { "api/v2.0/users", "api/v2.0/projects/lab/members", "api/v2.0/robots" })
        {
            using var response = await admin.GetAsync($"{path}?{query}");
            await ErrorAssert.HasErrorAsync(response, HttpStatusCode.BadRequest, "BAD_REQUEST");
        }
    }

    private string Fill(string text) => text
        .Replace("{dev}", _devId.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("{robot}", _robotId.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

    /// <summary>Everything these requests could change, as the API shows it.</summary>
    private async Task<string> StateAsync()
    {
        using var admin = _server.Admin();
        var parts = new List<string>();
        foreach (string path in new[] { "api/v2.0/users?page_size=100", "api/v2.0/projects?page_size=100", "api/v2.0/projects/lab/members", $"api/v2.0/robots/{_robotId}", "api/v2.0/quotas" })
        {
            using var response = await admin.GetAsync(path);
            string body = await response.Content.ReadAsStringAsync();
            parts.Add(path + " " + (int)response.StatusCode + " " + System.Text.RegularExpressions.Regex.Replace(body, "\"update_time\":\"[^\"]*\"", ""));
        }

        return string.Join("\n", parts);
    }
}
