using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Wharf.Oci;
using Wharf.Registry.Projects;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Interop;

/// <summary>
/// One registry with a public and a private project, every kind of caller logged in with
/// <c>skopeo login</c>, images to pull and to delete for each. Shared by the matrix's rows.
/// </summary>
public sealed class AuthorizationMatrixFixture : IAsyncLifetime
{
    public const string Password = "Passw0rdX";

    public static readonly string[] Projects = ["pub", "priv"];

    public static readonly (string Actor, ProjectRole Role)[] Members =
    [
        ("projectadmin", ProjectRole.ProjectAdmin),
        ("maintainer", ProjectRole.Maintainer),
        ("developer", ProjectRole.Developer),
        ("guest", ProjectRole.Guest),
        ("limitedguest", ProjectRole.LimitedGuest),
    ];

    public static readonly string[] Actors =
        [.. Members.Select(m => m.Actor), "nonmember", "anonymous", "sysadmin", "robotpull", "robotpush"];

    private readonly Dictionary<(string Actor, string Project), (string User, string Secret)> _credentials = [];
    private readonly Dictionary<(string Actor, string Project), string> _authFiles = [];

    public WharfServer Server { get; private set; } = null!;

    public Skopeo Skopeo { get; } = new();

    public Podman Podman { get; private set; } = null!;

    public string Host => Server.BaseAddress.Authority;

    public string Layout { get; private set; } = "";

    /// <summary>The digest of <c>&lt;project&gt;/app:del-&lt;actor&gt;</c>, an image each caller tries to delete.</summary>
    public Dictionary<(string Actor, string Project), Digest> DeleteTargets { get; } = [];

    public async Task InitializeAsync()
    {
        Assert.True(Skopeo.IsInstalled, "skopeo is not installed (test.sh installs it when run as root)");
        Server = await WharfServer.StartAsync();
        await Server.CreateProjectAsync("pub", isPublic: true);
        await Server.CreateProjectAsync("priv");
        await Server.CreateUserAsync("nonmember");
        foreach (var (actor, role) in Members)
        {
            await Server.CreateUserAsync(actor);
            foreach (string project in Projects)
            {
                await Server.AddMemberAsync(project, actor, role);
            }
        }

        using var admin = Server.Admin();
        foreach (string project in Projects)
        {
            var reader = await Server.CreateRobotAsync(project, "reader", -1, "pull");
            var writer = await Server.CreateRobotAsync(project, "writer", -1, "pull", "push");
            _credentials[("robotpull", project)] = (reader.Name, reader.Secret);
            _credentials[("robotpush", project)] = (writer.Name, writer.Secret);
            await Images.PushImageAsync(admin, $"{project}/app", "base", RandomNumberGenerator.GetBytes(64));
            foreach (string actor in Actors)
            {
                var (digest, _) = await Images.PushImageAsync(admin, $"{project}/app", $"del-{actor}", RandomNumberGenerator.GetBytes(64));
                DeleteTargets[(actor, project)] = digest;
            }
        }

        foreach (string actor in Actors)
        {
            foreach (string project in Projects)
            {
                if (actor == "anonymous")
                {
                    continue;
                }

                var (user, secret) = Credentials(actor, project);
                _authFiles[(actor, project)] = actor.StartsWith("robot", StringComparison.Ordinal) || project == Projects[0]
                    ? await Skopeo.LoginAsync(Host, user, secret)
                    : _authFiles[(actor, Projects[0])];
            }
        }

        Layout = Path.Combine(Skopeo.Scratch, "layout");
        await Images.WriteOciLayoutAsync(Layout, "v1", "pushed by the matrix\n");

        // podman unpacks what it pulls, so its base image is a real one (the layout above), and it pushes
        // a tiny image of its own.
        string adminAuth = await Skopeo.LoginAsync(Host, "admin", WharfServer.AdminPassword);
        foreach (string project in Projects)
        {
            var copied = await Skopeo.RunAsync(adminAuth, "copy", "--dest-tls-verify=false", $"oci:{Layout}:v1", $"docker://{Host}/{project}/app:podman-base");
            Assert.True(copied.ExitCode == 0, copied.ToString());
        }

        Assert.True(Podman.IsInstalled, "podman is not installed (test.sh installs it when run as root)");
        Podman = new Podman();
        await Podman.ImportTinyImageAsync("localhost/matrix:1", "pushed by podman\n");
    }

    /// <summary>The login of an actor in a project (robots belong to one project; people are the same in both).</summary>
    public (string User, string Secret) Credentials(string actor, string project) => actor switch
    {
        "sysadmin" => ("admin", WharfServer.AdminPassword),
        "robotpull" or "robotpush" => _credentials[(actor, project)],
        _ => (actor, Password),
    };

    /// <summary>The skopeo auth file of an actor; null for anonymous.</summary>
    public string? AuthFile(string actor, string project) => _authFiles.GetValueOrDefault((actor, project));

    public HttpClient HttpClientFor(string actor, string project)
    {
        if (actor == "anonymous")
        {
            return Server.Client();
        }

        var (user, secret) = Credentials(actor, project);
        return Server.Client(user, secret);
    }

    public async Task DisposeAsync()
    {
        Podman?.Dispose();
        Skopeo.Dispose();
        await Server.DisposeAsync();
    }
}

/// <summary>
/// Harbor's authorization matrix: every role, a stranger, anonymous, a system admin and robots with
/// pull and with pull+push, against a public and a private project. Pull, push and delete go through
/// real skopeo (<c>login</c>, <c>copy</c>, <c>delete</c>); list members, manage robots and read the
/// quota go through the management API.
/// </summary>
public sealed class AuthorizationMatrixTests(AuthorizationMatrixFixture fixture, Xunit.Abstractions.ITestOutputHelper output)
    : IClassFixture<AuthorizationMatrixFixture>
{
    // Per actor: pull, push, delete in pub (public) then in priv (private). Y allowed, - refused.
    private static readonly Dictionary<string, string> Registry = new(StringComparer.Ordinal)
    {
        ["projectadmin"] = "YYY YYY",
        ["maintainer"] = "YYY YYY",
        ["developer"] = "YY- YY-",
        ["guest"] = "Y-- Y--",
        ["limitedguest"] = "Y-- Y--",
        ["nonmember"] = "Y-- ---",
        ["anonymous"] = "Y-- ---",
        ["sysadmin"] = "YYY YYY",
        ["robotpull"] = "Y-- Y--",
        ["robotpush"] = "YY- YY-",
    };

    // Per actor: HTTP status of list members, create a robot, read the quota (project summary), in pub then priv.
    private static readonly Dictionary<string, int[]> Management = new(StringComparer.Ordinal)
    {
        ["projectadmin"] = [200, 201, 200, 200, 201, 200],
        ["maintainer"] = [200, 403, 200, 200, 403, 200],
        ["developer"] = [200, 403, 200, 200, 403, 200],
        ["guest"] = [200, 403, 200, 200, 403, 200],
        ["limitedguest"] = [403, 403, 200, 403, 403, 200],
        ["nonmember"] = [403, 403, 200, 404, 404, 404],
        ["anonymous"] = [401, 401, 200, 401, 401, 404],
        ["sysadmin"] = [200, 201, 200, 200, 201, 200],
        ["robotpull"] = [403, 403, 200, 403, 403, 200],
        ["robotpush"] = [403, 403, 200, 403, 403, 200],
    };

    private static readonly string[] RegistryOperations = ["pull", "push", "delete"];
    private static readonly string[] ManagementOperations = ["members", "robots", "quota"];

    public static TheoryData<string, string, string> RegistryCases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (string actor in AuthorizationMatrixFixture.Actors)
        {
            foreach (string project in AuthorizationMatrixFixture.Projects)
            {
                foreach (string operation in RegistryOperations)
                {
                    data.Add(actor, project, operation);
                }
            }
        }

        return data;
    }

    public static TheoryData<string, string, string> ManagementCases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (string actor in AuthorizationMatrixFixture.Actors)
        {
            foreach (string project in AuthorizationMatrixFixture.Projects)
            {
                foreach (string operation in ManagementOperations)
                {
                    data.Add(actor, project, operation);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RegistryCases))]
    public async Task Skopeo_ActorOperationProject_FollowsHarborsRoles(string actor, string project, string operation)
    {
        int column = Array.IndexOf(AuthorizationMatrixFixture.Projects, project) * 4 + Array.IndexOf(RegistryOperations, operation);
        bool allowed = Registry[actor][column] == 'Y';
        string? authFile = fixture.AuthFile(actor, project);
        string host = fixture.Host;
        using var admin = fixture.Server.Admin();
        ProcessResult result;
        switch (operation)
        {
            case "pull":
                string target = Path.Combine(fixture.Skopeo.Scratch, $"pull-{actor}-{project}");
                result = await fixture.Skopeo.RunAsync(authFile, "copy", "--src-tls-verify=false", $"docker://{host}/{project}/app:base", $"oci:{target}:x");
                Assert.Equal(allowed, File.Exists(Path.Combine(target, "index.json")));
                break;
            case "push":
                result = await fixture.Skopeo.RunAsync(authFile, "copy", "--dest-tls-verify=false", $"oci:{fixture.Layout}:v1", $"docker://{host}/{project}/app:push-{actor}");
                Assert.Equal(allowed ? HttpStatusCode.OK : HttpStatusCode.NotFound, (await admin.GetAsync($"v2/{project}/app/manifests/push-{actor}")).StatusCode);
                break;
            default:
                result = await fixture.Skopeo.RunAsync(authFile, "delete", "--tls-verify=false", $"docker://{host}/{project}/app:del-{actor}");
                var digest = fixture.DeleteTargets[(actor, project)];
                Assert.Equal(allowed ? HttpStatusCode.NotFound : HttpStatusCode.OK, (await admin.GetAsync($"v2/{project}/app/manifests/{digest}")).StatusCode);
                break;
        }

        output.WriteLine($"{actor} {operation} {project}: {result}");
        Assert.True(allowed == (result.ExitCode == 0), $"{actor} {operation} in {project} should be {(allowed ? "allowed" : "refused")}: {result}");
    }

    public static TheoryData<string, string> PodmanCases()
    {
        var data = new TheoryData<string, string>();
        foreach (string actor in AuthorizationMatrixFixture.Actors)
        {
            foreach (string project in AuthorizationMatrixFixture.Projects)
            {
                data.Add(actor, project);
            }
        }

        return data;
    }

    /// <summary>The same rules seen by podman: <c>podman login</c>, then pull and push.</summary>
    [Theory]
    [MemberData(nameof(PodmanCases))]
    public async Task Podman_ActorPullAndPush_FollowsHarborsRoles(string actor, string project)
    {
        int offset = Array.IndexOf(AuthorizationMatrixFixture.Projects, project) * 4;
        bool mayPull = Registry[actor][offset] == 'Y';
        bool mayPush = Registry[actor][offset + 1] == 'Y';
        var podman = fixture.Podman;
        string host = fixture.Host;
        await podman.RunAsync("logout", "--all");
        if (actor != "anonymous")
        {
            var (user, secret) = fixture.Credentials(actor, project);
            var login = await podman.RunAsync("login", "--tls-verify=false", "-u", user, "-p", secret, host);
            Assert.True(login.ExitCode == 0, $"podman login as {actor}: {login}");
        }

        var pull = await podman.RunAsync("pull", "--tls-verify=false", $"{host}/{project}/app:podman-base");
        output.WriteLine($"{actor} podman pull {project}: {pull}");
        Assert.True(mayPull == (pull.ExitCode == 0), $"{actor} pull in {project} should be {(mayPull ? "allowed" : "refused")}: {pull}");

        string target = $"{host}/{project}/app:podman-{actor}";
        var push = await podman.RunAsync("push", "--tls-verify=false", "localhost/matrix:1", target);
        output.WriteLine($"{actor} podman push {project}: {push}");
        Assert.True(mayPush == (push.ExitCode == 0), $"{actor} push in {project} should be {(mayPush ? "allowed" : "refused")}: {push}");
        using var admin = fixture.Server.Admin();
        Assert.Equal(mayPush ? HttpStatusCode.OK : HttpStatusCode.NotFound, (await admin.GetAsync($"v2/{project}/app/manifests/podman-{actor}")).StatusCode);
    }

    [Theory]
    [MemberData(nameof(ManagementCases))]
    public async Task ManagementApi_ActorOperationProject_FollowsHarborsRoles(string actor, string project, string operation)
    {
        int expected = Management[actor][Array.IndexOf(AuthorizationMatrixFixture.Projects, project) * 3 + Array.IndexOf(ManagementOperations, operation)];
        using var client = fixture.HttpClientFor(actor, project);
        using var response = operation switch
        {
            "members" => await client.GetAsync($"api/v2.0/projects/{project}/members"),
            "robots" => await client.PostAsJsonAsync($"api/v2.0/projects/{project}/robots", new
            {
                name = $"made-by-{actor}",
                duration = 1,
                permissions = new[] { new { kind = "project", @namespace = project, access = new[] { new { resource = "repository", action = "pull" } } } },
            }),
            _ => await client.GetAsync($"api/v2.0/projects/{project}/summary"),
        };

        Assert.True(expected == (int)response.StatusCode, $"{actor} {operation} in {project}: expected {expected}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        if (operation == "quota" && expected == 200)
        {
            var summary = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
            Assert.True(summary.GetProperty("quota").GetProperty("used").GetProperty("storage").GetInt64() > 0);
        }
    }
}
