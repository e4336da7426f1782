using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Identity;

/// <summary>Password guessing is throttled on every path that checks a password, per account and per source address.</summary>
public sealed class LoginThrottleTests : IAsyncLifetime
{
    private const string Wrong = "Wr0ngPassword";
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task TokenGet_TenWrongPasswords_RefusesEvenTheRightOneWith429UntilTheWindowEnds()
    {
        for (int i = 0; i < 10; i++)
        {
            using var wrong = await _server.RequestTokenAsync("dev", Wrong);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using (var locked = await _server.RequestTokenAsync("dev", WharfEndpoint.UserPassword))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
            var retryAfter = locked.Headers.RetryAfter?.Delta;
            Assert.NotNull(retryAfter);
            Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5));
            await ErrorAssert.HasErrorAsync(locked, HttpStatusCode.TooManyRequests, "TOO_MANY_REQUESTS");
        }

        _server.Clock.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));
        using var again = await _server.RequestTokenAsync("dev", WharfEndpoint.UserPassword);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Fact]
    public async Task TokenPost_PasswordGrant_IsThrottled()
    {
        using var client = _server.Client();
        for (int i = 0; i < 10; i++)
        {
            using var wrong = await client.PostAsync("service/token", PasswordGrant("dev", Wrong));
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using var locked = await client.PostAsync("service/token", PasswordGrant("dev", WharfEndpoint.UserPassword));
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
        Assert.NotNull(locked.Headers.RetryAfter);
    }

    [Fact]
    public async Task V2Basic_IsThrottled_WithTheDistributionSpecsError()
    {
        using (var wrong = _server.Client("dev", Wrong))
        {
            for (int i = 0; i < 10; i++)
            {
                using var response = await wrong.GetAsync("v2/");
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            }
        }

        using var right = _server.Client("dev", WharfEndpoint.UserPassword);
        using var locked = await right.GetAsync("v2/");
        Assert.NotNull(locked.Headers.RetryAfter);
        await ErrorAssert.HasErrorAsync(locked, HttpStatusCode.TooManyRequests, "TOOMANYREQUESTS");
    }

    [Fact]
    public async Task ManagementApiBasic_IsThrottled()
    {
        using (var wrong = _server.Client("dev", Wrong))
        {
            for (int i = 0; i < 10; i++)
            {
                using var response = await wrong.GetAsync("api/v2.0/users/current");
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            }
        }

        using var right = _server.Client("dev", WharfEndpoint.UserPassword);
        using var locked = await right.GetAsync("api/v2.0/users/current");
        Assert.NotNull(locked.Headers.RetryAfter);
        await ErrorAssert.HasErrorAsync(locked, HttpStatusCode.TooManyRequests, "TOO_MANY_REQUESTS");
    }

    [Theory]
    [InlineData("v1/search?q=app")]
    [InlineData("api/v2.0/search?q=app")]
    [InlineData("api/v2.0/projects")]
    public async Task SearchAndAnonymousFriendlyEndpoints_AreThrottledToo(string path)
    {
        using (var wrong = _server.Client("dev", Wrong))
        {
            for (int i = 0; i < 10; i++)
            {
                // Harbor's search answers wrong credentials as anonymous; either way it is no 429 yet.
                using var response = await wrong.GetAsync(path);
                Assert.NotEqual(HttpStatusCode.TooManyRequests, response.StatusCode);
                Assert.NotEqual(HttpStatusCode.InternalServerError, response.StatusCode);
            }
        }

        using var right = _server.Client("dev", WharfEndpoint.UserPassword);
        using var locked = await right.GetAsync(path);
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
        Assert.NotNull(locked.Headers.RetryAfter);
    }

    [Fact]
    public async Task RobotSecret_IsThrottled()
    {
        var (_, name, secret) = await _server.CreateRobotAsync("lab", "ci", 30, "pull");
        for (int i = 0; i < 10; i++)
        {
            using var wrong = await _server.RequestTokenAsync(name, Wrong);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using var locked = await _server.RequestTokenAsync(name, secret);
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
    }

    [Fact]
    public async Task AccountLimit_CountsTheNameWithoutRegardToCase_AndLeavesOtherAccountsAlone()
    {
        foreach (string name in new[] { "dev", "Dev", "DEV", "dEv", "deV", "DEv", "dEV", "DeV", "dev", "Dev" })
        {
            using var wrong = await _server.RequestTokenAsync(name, Wrong);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using (var locked = await _server.RequestTokenAsync("dev", WharfEndpoint.UserPassword))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
        }

        using var admin = await _server.RequestTokenAsync("admin", WharfServer.AdminPassword);
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
    }

    [Fact]
    public async Task SourceLimit_ThirtyFailuresOverManyNames_RefusesTheAddressForEveryAccount()
    {
        for (int i = 0; i < 30; i++)
        {
            using var wrong = await _server.RequestTokenAsync($"nobody{i}", Wrong);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using var locked = await _server.RequestTokenAsync("admin", WharfServer.AdminPassword);
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);

        _server.Clock.Advance(TimeSpan.FromMinutes(6));
        using var again = await _server.RequestTokenAsync("admin", WharfServer.AdminPassword);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Fact]
    public async Task SuccessfulLogins_DoNotCount_AndClearTheAccountsFailures()
    {
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 9; i++)
            {
                using var wrong = await _server.RequestTokenAsync("dev", Wrong);
                Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            }

            for (int i = 0; i < 5; i++)
            {
                _server.Clock.Advance(TimeSpan.FromSeconds(31)); // past the credential cache, so each success is a real check
                using var right = await _server.RequestTokenAsync("dev", WharfEndpoint.UserPassword);
                Assert.Equal(HttpStatusCode.OK, right.StatusCode);
            }
        }
    }

    [Fact]
    public async Task Limits_AreConfigurable()
    {
        await using var strict = await WharfServer.StartAsync(new Dictionary<string, string?>
        {
            ["Registry:LoginFailuresPerAccount"] = "2",
            ["Registry:LoginFailureWindow"] = "00:01:00",
        });
        for (int i = 0; i < 2; i++)
        {
            using var wrong = await strict.RequestTokenAsync("admin", Wrong);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using (var locked = await strict.RequestTokenAsync("admin", WharfServer.AdminPassword))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
            Assert.InRange(locked.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));
        }

        strict.Clock.Advance(TimeSpan.FromMinutes(1));
        using var again = await strict.RequestTokenAsync("admin", WharfServer.AdminPassword);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Fact]
    public async Task UnknownAndDisabledNames_AreCheckedAgainstAHashLikeKnownOnes()
    {
        var hasher = new CountingHasher(new IdentityOptions { BcryptWorkFactor = 4 });
        await using var server = await WharfServer.StartAsync(configureServices: s => s.AddSingleton<PasswordHasher>(hasher));
        await server.CreateUserAsync("known");
        await server.CreateProjectAsync("lab");

        foreach (string name in new[] { "known", "unknown", "robot$lab+nosuch" })
        {
            int before = hasher.Checks;
            using var response = await server.RequestTokenAsync(name, Wrong);

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal(before + 1, hasher.Checks);
        }

        using (var admin = server.Admin())
        {
            long id = (await admin.GetFromJsonAsync<JsonElement[]>("api/v2.0/users?username=known"))![0].GetProperty("user_id").GetInt64();
            using var disable = await admin.PutAsync($"api/v2.0/users/{id}/disabled", JsonContent.Create(new { disabled = true }));
            Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
        }

        int beforeDisabled = hasher.Checks;
        using var disabled = await server.RequestTokenAsync("known", WharfEndpoint.UserPassword);
        Assert.Equal(HttpStatusCode.Unauthorized, disabled.StatusCode);
        Assert.Equal(beforeDisabled + 1, hasher.Checks);
    }

    private static FormUrlEncodedContent PasswordGrant(string username, string password) => new(new Dictionary<string, string>
    {
        ["grant_type"] = "password",
        ["username"] = username,
        ["password"] = password,
        ["service"] = "wharf-registry",
        ["client_id"] = "test",
    });

    private sealed class CountingHasher(IdentityOptions options) : PasswordHasher(options)
    {
        private int _checks;

        public int Checks => Volatile.Read(ref _checks);

        public override bool Matches(string password, string? hash)
        {
            Interlocked.Increment(ref _checks);
            return base.Matches(password, hash);
        }
    }
}
