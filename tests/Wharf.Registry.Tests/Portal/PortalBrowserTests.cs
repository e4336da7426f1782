using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using Wharf.Registry.Projects;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;
using Xunit.Abstractions;

namespace Wharf.Registry.Tests.Portal;

/// <summary>
/// The portal in a real headless chromium against a real wharfd on a socket, with images pushed by skopeo and
/// podman: what an admin and a developer do in their first session. Each test saves a screenshot when it fails.
/// </summary>
public sealed class PortalBrowserTests(ITestOutputHelper output) : IAsyncLifetime
{
    private WharfServer _server = null!;
    private ChromeDriver _browser = null!;
    private string _base = "";
    private string _host = "";

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        _base = _server.BaseAddress.ToString().TrimEnd('/');
        _host = _server.BaseAddress.Authority;
        _browser = await Chromium.StartAsync();
    }

    public async Task DisposeAsync()
    {
        _browser.Quit();
        _browser.Dispose();
        await _server.DisposeAsync();
    }

    private async Task WithScreenshotAsync(string name, Func<Task> test)
    {
        try
        {
            await test();
        }
        catch
        {
            output.WriteLine("screenshot: " + Chromium.SaveScreenshot(_browser, name));
            output.WriteLine("page: " + _browser.Url);
            throw;
        }
    }

    private void Open(string path) => _browser.Navigate().GoToUrl(_base + path);

    private IWebElement Field(string label) => _browser.FindElement(By.XPath($"//label[normalize-space()='{label}']")) is var l && l.GetAttribute("for") is { Length: > 0 } id
        ? _browser.FindElement(By.Id(id))
        : throw new InvalidOperationException("no field labelled " + label);

    private void Button(string text) => ClickAndWait(_browser.FindElement(By.XPath($"//button[normalize-space()='{text}']")));

    private void Link(string text) => ClickAndWait(_browser.FindElement(By.LinkText(text)));

    /// <summary>Clicks something that loads a new page and waits (bounded) until the old document is gone and the new one loaded.</summary>
    private void ClickAndWait(IWebElement element) => AndWait(element.Click);

    /// <summary>Does something that loads a new page (a click, Enter in a form) and waits as <see cref="ClickAndWait"/>.</summary>
    private void AndWait(Action action)
    {
        var old = _browser.FindElement(By.TagName("html"));
        action();
        for (int i = 0; i < 300; i++)
        {
            if (IsStale(old) && Equals(_browser.ExecuteScript("return document.readyState"), "complete"))
            {
                return;
            }

            Thread.Sleep(100);
        }

        throw new TimeoutException("the page did not change after the click");
    }

    private static bool IsStale(IWebElement element)
    {
        try
        {
            _ = element.Enabled;
            return false;
        }
        catch (StaleElementReferenceException)
        {
            return true;
        }
        catch (WebDriverException e) when (e.Message.Contains("does not belong to the document", StringComparison.Ordinal))
        {
            // Chromium's other word for a stale element, when the old document is torn down mid-call.
            return true;
        }
    }

    private void SignIn(string username, string password)
    {
        Open("/portal/login");
        Field("Username").SendKeys(username);
        Field("Password").SendKeys(password);
        Button("Sign in");
        Assert.Contains(username, _browser.FindElement(By.CssSelector("header .account")).Text, StringComparison.Ordinal);
    }

    private void SignOut() => Button("Sign out");

    private string Flash() => _browser.FindElement(By.CssSelector("[role=status]")).Text;

    [Fact]
    public Task FirstSession_AdminSetsUpDeveloperFindsImageRobotPushes() => WithScreenshotAsync(nameof(FirstSession_AdminSetsUpDeveloperFindsImageRobotPushes), async () =>
    {
        // The admin creates a project and a user, and adds the user as developer.
        SignIn("admin", WharfServer.AdminPassword);
        Field("Name").SendKeys("team");
        Button("Create project");
        Assert.Contains("Project team created", Flash(), StringComparison.Ordinal);
        Open("/portal/admin/users");
        Field("Username").SendKeys("alice");
        Field("Password").SendKeys("Alice12345");
        Button("Create user");
        Assert.Contains("User alice created", Flash(), StringComparison.Ordinal);
        Open("/portal/projects/team");
        _browser.FindElement(By.Id("member_username")).SendKeys("alice");
        _browser.FindElement(By.XPath("//select[@id='member_role']/option[normalize-space()='developer']")).Click();
        Button("Add member");
        Assert.Contains("alice added as developer", Flash(), StringComparison.Ordinal);

        // An image arrives through skopeo.
        using var skopeo = new Skopeo();
        string layout = Path.Combine(skopeo.Scratch, "layout");
        await Images.WriteOciLayoutAsync(layout, "v1", "shown in the portal\n");
        string adminAuth = await skopeo.LoginAsync(_host, "admin", WharfServer.AdminPassword);
        var copied = await skopeo.RunAsync(adminAuth, "copy", "--dest-tls-verify=false", $"oci:{layout}:v1", $"docker://{_host}/team/app:v1");
        Assert.True(copied.ExitCode == 0, copied.ToString());

        // The admin makes a robot that may push; its secret is on the answer page only.
        Open("/portal/projects/team");
        _browser.FindElement(By.Id("robot_name")).SendKeys("ci");
        _browser.FindElement(By.CssSelector("input[name=action][value=push]")).Click();
        Button("Create robot account");
        string robotName = _browser.FindElement(By.Id("robot-name")).Text;
        string secret = _browser.FindElement(By.Id("robot-secret")).Text;
        Assert.Equal("robot$team+ci", robotName);
        SignOut();

        // The developer signs in, finds the project and the image, and reads the pull command off the page.
        SignIn("alice", "Alice12345");
        Link("team");
        Assert.Empty(_browser.FindElements(By.Id("robot_name"))); // developers do not manage robots
        Link("app");
        var pull = _browser.FindElement(By.CssSelector("code.pull"));
        Assert.Equal($"podman pull {_host}/team/app:v1", pull.Text);
        Assert.Equal(pull.Text, _browser.FindElement(By.CssSelector("li button.copy")).GetAttribute("data-copy"));
        Assert.Empty(_browser.FindElements(By.XPath("//button[starts-with(normalize-space(), 'Delete tag')]")));

        // The robot pushes with its secret through podman, and the developer sees the new tag.
        Assert.True(Podman.IsInstalled, "podman is not installed (test.sh installs it when run as root)");
        using var podman = new Podman();
        await podman.ImportTinyImageAsync("localhost/portal:1", "pushed by the robot\n");
        var login = await podman.RunAsync("login", "--tls-verify=false", "-u", robotName, "-p", secret, _host);
        Assert.True(login.ExitCode == 0, login.ToString());
        var push = await podman.RunAsync("push", "--tls-verify=false", "localhost/portal:1", $"{_host}/team/app:from-robot");
        Assert.True(push.ExitCode == 0, push.ToString());
        _browser.Navigate().Refresh();
        Assert.Contains(_browser.FindElements(By.CssSelector("code.pull")), c => c.Text == $"podman pull {_host}/team/app:from-robot");
    });

    [Fact]
    public Task GuestAndAnonymous_SeeOnlyWhatTheyMay_AndAForgedPostIsRefused() => WithScreenshotAsync(nameof(GuestAndAnonymous_SeeOnlyWhatTheyMay_AndAForgedPostIsRefused), async () =>
    {
        await _server.CreateProjectAsync("open", isPublic: true);
        await _server.CreateProjectAsync("closed");
        await _server.CreateUserAsync("guest");
        await _server.AddMemberAsync("closed", "guest", ProjectRole.Guest);
        await _server.SeedImageAsync("closed/app", "v1");

        // Anonymous: the public project only.
        Open("/");
        var names = _browser.FindElements(By.CssSelector("tbody th a")).Select(a => a.Text).ToList();
        Assert.Equal(["open"], names);

        // A guest sees the private project's image but no delete button.
        SignIn("guest", WharfEndpoint.UserPassword);
        Open("/portal/projects/closed/repositories/app");
        Assert.Equal($"podman pull {_host}/closed/app:v1", _browser.FindElement(By.CssSelector("code.pull")).Text);
        Assert.Empty(_browser.FindElements(By.XPath("//button[starts-with(normalize-space(), 'Delete tag')]")));
        SignOut();

        // The admin's own delete form, sent without its anti-forgery token, is refused and the tag stays.
        SignIn("admin", WharfServer.AdminPassword);
        Open("/portal/projects/closed/repositories/app");
        _browser.ExecuteScript("document.querySelectorAll('input[name=__wharf_form]').forEach(e => e.remove());");
        Button("Delete tag v1");
        Assert.Contains("not sent by this site", _browser.FindElement(By.CssSelector("[role=alert]")).Text, StringComparison.Ordinal);
        using var admin = _server.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("v2/closed/app/manifests/v1")).StatusCode);
    });

    [Fact]
    public Task ProjectAdmin_EditsARobot_RefreshesItsSecret_AndDeletesAnArtifact() => WithScreenshotAsync(nameof(ProjectAdmin_EditsARobot_RefreshesItsSecret_AndDeletesAnArtifact), async () =>
    {
        await _server.CreateProjectAsync("team");
        await _server.CreateUserAsync("lead");
        await _server.AddMemberAsync("team", "lead", ProjectRole.ProjectAdmin);
        var robot = await _server.CreateRobotAsync("team", "ci", 30, "pull");
        var image = await _server.SeedImageAsync("team/app", "v1");

        // The robot gets push and never expires; its secret is replaced and shown once.
        SignIn("lead", WharfEndpoint.UserPassword);
        Open("/portal/projects/team");
        Link("Edit");
        _browser.FindElement(By.CssSelector("input[name=action][value=push]")).Click();
        var days = Field("Expires after (days from creation; -1 never)");
        days.Clear();
        days.SendKeys("-1");
        Button("Save robot account");
        Assert.Contains("saved", Flash(), StringComparison.Ordinal);
        Assert.Equal(["pull", "push"], WharfServer.AccessOf(await _server.TokenAsync(robot.Name, robot.Secret, "repository:team/app:pull,push"))["repository:team/app"].Order(StringComparer.Ordinal));
        Open($"/portal/projects/team/robots/{robot.Id}");
        Button("Refresh the secret");
        string secret = _browser.FindElement(By.Id("robot-secret")).Text;
        Assert.NotEqual(robot.Secret, secret);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.RequestTokenAsync(robot.Name, robot.Secret, "repository:team/app:pull")).StatusCode);
        Assert.NotEmpty(WharfServer.AccessOf(await _server.TokenAsync(robot.Name, secret, "repository:team/app:pull")));

        // The artifact goes by digest from the repository page.
        Open("/portal/projects/team/repositories/app");
        ClickAndWait(_browser.FindElement(By.XPath("//button[starts-with(normalize-space(), 'Delete artifact')]")));
        Assert.Contains("deleted", Flash(), StringComparison.Ordinal);
        using var admin = _server.Admin();
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"v2/team/app/manifests/{image.Digest}")).StatusCode);
    });

    [Fact]
    public Task Policies_AdminAddsRetentionRuleDryRunsReadsTheLog_AddsImmutableRuleAndWebhook() => WithScreenshotAsync(nameof(Policies_AdminAddsRetentionRuleDryRunsReadsTheLog_AddsImmutableRuleAndWebhook), async () =>
    {
        await _server.CreateProjectAsync("team");
        for (int i = 1; i <= 3; i++)
        {
            await _server.SeedImageAsync("team/app", $"v{i}");
            _server.Clock.Advance(TimeSpan.FromMinutes(1));
        }

        await using var receiver = await Webhooks.WebhookReceiver.StartAsync();
        SignIn("admin", WharfServer.AdminPassword);
        Open("/portal/projects/team");
        Link("Policies of team");

        // A retention rule keeping the newest artifact; a dry run says what would go.
        Field("N (artifacts or days)").SendKeys("1");
        Button("Add retention rule");
        Assert.Contains("Retention rule 1 added", Flash(), StringComparison.Ordinal);
        Assert.Contains("the most recently pushed 1 artifacts", _browser.FindElement(By.CssSelector("section[aria-labelledby=retention]")).Text, StringComparison.Ordinal);
        Button("Dry run");
        Assert.Contains("Retention dry run", Flash(), StringComparison.Ordinal);
        await _server.Services.GetRequiredService<Wharf.Registry.Retention.RetentionRunner>().IdleAsync();
        Open("/portal/projects/team/policies");
        ClickAndWait(_browser.FindElement(By.PartialLinkText("Run ")));
        string log = _browser.FindElement(By.TagName("main")).Text;
        Assert.Contains("would delete", log, StringComparison.Ordinal);
        Assert.Contains("would remove 2, retained 1 of 3", log, StringComparison.Ordinal);
        Link("Back to the policies of team");

        // An immutable tag rule, then a webhook that is disabled again.
        Field("Tags matching").SendKeys("v*");
        Button("Add immutable rule");
        Assert.Contains("added", Flash(), StringComparison.Ordinal);
        Assert.Contains("v*", _browser.FindElement(By.CssSelector("section[aria-labelledby=immutable]")).Text, StringComparison.Ordinal);
        Field("Name").SendKeys("ci");
        Field("Address (http or https URL)").SendKeys(receiver.Address.ToString());
        _browser.FindElement(By.CssSelector("input[name=event_types][value=PUSH_ARTIFACT]")).Click();
        Button("Add webhook");
        Assert.Contains("Webhook ci added", Flash(), StringComparison.Ordinal);
        Button("Disable ci");
        Assert.Contains("Webhook ci disabled", Flash(), StringComparison.Ordinal);
        Assert.Contains("Enable ci", _browser.FindElement(By.CssSelector("section[aria-labelledby=webhooks]")).Text, StringComparison.Ordinal);
    });

    [Fact]
    public Task Keyboard_SkipLinkThenProfileSavedWithEnter_AndPullCommandsCopied() => WithScreenshotAsync(nameof(Keyboard_SkipLinkThenProfileSavedWithEnter_AndPullCommandsCopied), async () =>
    {
        await _server.CreateProjectAsync("team");
        await _server.CreateUserAsync("alice");
        await _server.AddMemberAsync("team", "alice", ProjectRole.Developer);
        await _server.SeedImageAsync("team/app", "v1");
        SignIn("alice", WharfEndpoint.UserPassword);
        Open("/portal/account");

        // Without a mouse: the first Tab reaches the skip link, Enter on it moves focus into the page's content.
        new OpenQA.Selenium.Interactions.Actions(_browser).SendKeys(Keys.Tab).Perform();
        Assert.Equal("Skip to content", _browser.SwitchTo().ActiveElement().Text);
        _browser.SwitchTo().ActiveElement().SendKeys(Keys.Enter);
        Assert.Equal("main", _browser.SwitchTo().ActiveElement().GetAttribute("id"));

        // The profile: typed into the labelled fields, sent with Enter.
        var email = Field("Email");
        email.Clear();
        email.SendKeys("alice@lab.test");
        var realName = Field("Real name");
        realName.Clear();
        AndWait(() => realName.SendKeys("Alice Example" + Keys.Enter));
        Assert.Contains("Profile saved", Flash(), StringComparison.Ordinal);
        Assert.Equal("Alice Example", Field("Real name").GetAttribute("value"));
        using (var api = _server.Client("alice", WharfEndpoint.UserPassword))
        {
            using var me = System.Text.Json.JsonDocument.Parse(await api.GetStringAsync("api/v2.0/users/current"));
            Assert.Equal("alice@lab.test", me.RootElement.GetProperty("email").GetString());
            Assert.Equal("Alice Example", me.RootElement.GetProperty("realname").GetString());
        }

        // The repository page's copy buttons (podman and wharf), pressed from the keyboard.
        Open("/portal/projects/team/repositories/app");
        var wharfCopy = _browser.FindElement(By.CssSelector("button.copy[aria-label='Copy wharf pull command for v1']"));
        Assert.Equal($"wharf pull {_host}/team/app:v1", wharfCopy.GetAttribute("data-copy"));
        var podmanCopy = _browser.FindElement(By.CssSelector("button.copy[aria-label='Copy pull command for v1']"));
        podmanCopy.SendKeys(Keys.Enter);
        for (int i = 0; i < 50 && podmanCopy.Text == "Copy"; i++)
        {
            Thread.Sleep(100);
        }

        Assert.Equal("Copied", podmanCopy.Text);
        Assert.Equal("polite", podmanCopy.GetAttribute("aria-live"));
    });

    [Fact]
    public Task PhoneWidth_MainPagesDoNotScrollSideways_AndEveryFieldHasALabel() => WithScreenshotAsync(nameof(PhoneWidth_MainPagesDoNotScrollSideways_AndEveryFieldHasALabel), async () =>
    {
        await _server.CreateProjectAsync("a-project-with-a-rather-long-name-for-a-phone");
        await _server.CreateRobotAsync("a-project-with-a-rather-long-name-for-a-phone", "ci", 30, "pull");
        await _server.SeedImageAsync("a-project-with-a-rather-long-name-for-a-phone/some/deeply/nested/repository", "a-long-tag-name-1.2.3");
        using (var admin = _server.Admin())
        {
            long projectId = await Retention.RetentionHarness.ProjectIdAsync(admin, "a-project-with-a-rather-long-name-for-a-phone");
            await Retention.RetentionHarness.CreatePolicyAsync(admin, Retention.RetentionHarness.Policy(projectId, "0 0 3 * * *",
                Retention.RetentionHarness.Rule("latestPushedK", 5, tagPattern: "{release-*,stable,a-rather-long-pattern-*}", repoPattern: "some/deeply/nested/**")));
        }

        _browser.Manage().Window.Size = new System.Drawing.Size(390, 844);
        SignIn("admin", WharfServer.AdminPassword);
        const string Project = "/portal/projects/a-project-with-a-rather-long-name-for-a-phone";
        string[] pages =
        [
            "/", Project, Project + "/repositories/some/deeply/nested/repository", Project + "/logs", Project + "/robots/1", Project + "/policies",
            "/portal/admin/users", "/portal/admin/gc", "/portal/admin/audit", "/portal/account",
        ];
        foreach (string path in pages)
        {
            Open(path);
            long scrollWidth = Convert.ToInt64(_browser.ExecuteScript("return document.documentElement.scrollWidth"), System.Globalization.CultureInfo.InvariantCulture);
            long viewport = Convert.ToInt64(_browser.ExecuteScript("return window.innerWidth"), System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(scrollWidth <= viewport, $"{path} is {scrollWidth}px wide in a {viewport}px window");
            var unlabelled = ((IEnumerable<object>?)_browser.ExecuteScript(
                "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
                + ".filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.name || e.id);") ?? []).ToList();
            Assert.True(unlabelled.Count == 0, $"{path} has fields without a label: {string.Join(", ", unlabelled)}");
        }

        SignOut();
        Open("/portal/login");
        Assert.True(Convert.ToInt64(_browser.ExecuteScript("return document.documentElement.scrollWidth"), System.Globalization.CultureInfo.InvariantCulture) <= 390);
    });
}
