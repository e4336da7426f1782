using System.Net;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Ldap;

/// <summary>The real wharfd checks the directory settings when it starts, says what is wrong, and still serves.</summary>
public sealed class LdapWharfdStartTests : IDisposable
{
    private readonly Slapd _slapd = Slapd.Start();

    public void Dispose() => _slapd.Dispose();

    [Theory]
    [InlineData("ldap_search_password", "WrongPass1", "wrong ldap_search_dn or ldap_search_password")]
    [InlineData("ldap_filter", "(objectClass=posixAccount)", "no user under")]
    [InlineData("ldap_url", "ldap://127.0.0.1:1", "cannot be reached")]
    public async Task Start_DirectoryNotUsable_LogsWhyAndStillServes(string key, string value, string expected)
    {
        var environment = _slapd.Settings().ToDictionary(p => p.Key.Replace(":", "__", StringComparison.Ordinal), p => p.Value!);
        environment[$"Registry__Configurations__{key}"] = value;
        await using var wharfd = await WharfdProcess.StartAsync(new WharfdOptions { Environment = environment });

        using var client = wharfd.Client();
        using var health = await client.GetAsync(new Uri("api/v2.0/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);

        // The check runs before wharfd listens; the log pipe may still be catching up (bounded).
        for (int i = 0; i < 100 && !wharfd.Process.Logs.Contains(expected, StringComparison.Ordinal); i++)
        {
            await Task.Delay(100);
        }

        Assert.Contains("is not usable", wharfd.Process.Logs, StringComparison.Ordinal);
        Assert.Contains(expected, wharfd.Process.Logs, StringComparison.Ordinal);
    }
}
