using System.Net;
using System.Text.RegularExpressions;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Identity;

public partial class AdminBootstrapTests
{
    [Fact]
    public async Task StartAsync_ConfiguredPassword_AdminLogsInAndNothingIsPrinted()
    {
        await using var server = await WharfServer.StartAsync();
        using var admin = server.Admin();

        using var response = await admin.GetAsync("api/v2.0/users/current");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"sysadmin_flag\":true", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("", server.BootstrapOutput.ToString());
    }

    [Fact]
    public async Task StartAsync_FirstStart_CreatesPublicLibraryProject()
    {
        await using var server = await WharfServer.StartAsync(new Dictionary<string, string?> { ["Registry:CreateLibraryProject"] = "true" });
        using var anonymous = new HttpClient { BaseAddress = server.BaseAddress };

        string projects = await anonymous.GetStringAsync("api/v2.0/projects");

        Assert.Contains("\"name\":\"library\"", projects, StringComparison.Ordinal);
        Assert.Contains("\"public\":\"true\"", projects, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_NoPasswordConfigured_PrintsAGeneratedOneOnceThatWorks()
    {
        string dataDirectory = Path.Combine(Path.GetTempPath(), "wharf-auth-" + Guid.NewGuid().ToString("N"));
        var noPassword = new Dictionary<string, string?> { ["Registry:AdminPassword"] = "" };
        var first = await WharfServer.StartAsync(noPassword, dataDirectory);
        string printed = first.BootstrapOutput.ToString();
        var match = PasswordLine().Match(printed);
        Assert.True(match.Success, printed);
        string password = match.Groups[1].Value;
        using (var admin = first.Client("admin", password))
        using (var ok = await admin.GetAsync("api/v2.0/users/current"))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        await first.StopKeepingDataAsync();

        // Second start on the same data: the admin keeps its password and nothing is printed again.
        await using var second = await WharfServer.StartAsync(noPassword, dataDirectory);
        Assert.Equal("", second.BootstrapOutput.ToString());
        using var again = second.Client("admin", password);
        using var stillOk = await again.GetAsync("api/v2.0/users/current");
        Assert.Equal(HttpStatusCode.OK, stillOk.StatusCode);
    }

    [Fact]
    public async Task StartAsync_ExistingAdmin_ConfiguredPasswordDoesNotOverwriteIt()
    {
        string dataDirectory = Path.Combine(Path.GetTempPath(), "wharf-auth-" + Guid.NewGuid().ToString("N"));
        var first = await WharfServer.StartAsync(dataDirectory: dataDirectory);
        await first.StopKeepingDataAsync();

        await using var second = await WharfServer.StartAsync(new Dictionary<string, string?> { ["Registry:AdminPassword"] = "Changed12345" }, dataDirectory);
        using var oldPassword = second.Admin();
        using var newPassword = second.Client("admin", "Changed12345");

        Assert.Equal(HttpStatusCode.OK, (await oldPassword.GetAsync("api/v2.0/users/current")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await newPassword.GetAsync("api/v2.0/users/current")).StatusCode);
    }

    [Fact]
    public async Task StartAsync_Database_IsReadableByItsOwnerOnly()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // no Unix modes there
        }

        await using var server = await WharfServer.StartAsync();

        string database = Path.Combine(server.DataDirectory, "registry.db");
        var keyMode = File.GetUnixFileMode(Path.Combine(server.DataDirectory, Wharf.Registry.Auth.TokenSigningKey.FileName));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, keyMode);
        if (WharfServer.OnPostgreSql)
        {
            Assert.False(File.Exists(database), "the metadata is in PostgreSQL: no registry.db in the data directory");
        }
        else
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(database));
        }
    }

    [GeneratedRegex("password is: (\\S+)")]
    private static partial Regex PasswordLine();
}
