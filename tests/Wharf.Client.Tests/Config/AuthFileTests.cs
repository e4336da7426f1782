using System.Text;
using Wharf.Client.Config;

namespace Wharf.Client.Tests.Config;

public sealed class AuthFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-auth-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private HostEnvironment Env(Dictionary<string, string>? vars = null) =>
        new(k => vars?.GetValueOrDefault(k), Path.Combine(_dir, "home"), 1000);

    [Fact]
    public void Store_NewFile_WrittenAsPodmanWritesIt()
    {
        var vars = new Dictionary<string, string> { ["XDG_RUNTIME_DIR"] = Path.Combine(_dir, "run") };
        var file = new AuthFile(Env(vars));

        file.Store("127.0.0.1:5058/lab", "alice", "s3cret");
        file.Store("127.0.0.1:5057", "alice", "s3cret");

        string path = Path.Combine(_dir, "run", "containers", "auth.json");
        Assert.Equal(path, file.PrimaryPath);
        Assert.Equal(
            "{\n\t\"auths\": {\n\t\t\"127.0.0.1:5057\": {\n\t\t\t\"auth\": \"YWxpY2U6czNjcmV0\"\n\t\t},\n\t\t\"127.0.0.1:5058/lab\": {\n\t\t\t\"auth\": \"YWxpY2U6czNjcmV0\"\n\t\t}\n\t}\n}",
            File.ReadAllText(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void PrimaryPath_NoRuntimeDir_IsPerUidRunPath()
    {
        Assert.Equal("/run/containers/1000/auth.json", new AuthFile(Env()).PrimaryPath);
    }

    [Fact]
    public void PrimaryPath_RegistryAuthFileSet_WinsOverRuntimeDir()
    {
        var vars = new Dictionary<string, string> { ["XDG_RUNTIME_DIR"] = "/x", ["REGISTRY_AUTH_FILE"] = "/y/a.json" };
        Assert.Equal("/y/a.json", new AuthFile(Env(vars)).PrimaryPath);
    }

    [Fact]
    public void Find_RepositoryKeyMoreSpecificThanHost_MostSpecificWins()
    {
        var vars = new Dictionary<string, string> { ["XDG_RUNTIME_DIR"] = Path.Combine(_dir, "run") };
        var file = new AuthFile(Env(vars));
        file.Store("reg.example", "host-user", "p1");
        file.Store("reg.example/lab", "lab-user", "p2");

        Assert.Equal("lab-user", file.Find("reg.example/lab/app")!.Username);
        Assert.Equal("host-user", file.Find("reg.example/other/app")!.Username);
        Assert.Null(file.Find("elsewhere.example/lab/app"));
    }

    [Fact]
    public void Find_OnlyInDockerConfigFallback_ReadsIt()
    {
        string docker = Path.Combine(_dir, "home", ".docker");
        Directory.CreateDirectory(docker);
        string auth = Convert.ToBase64String(Encoding.UTF8.GetBytes("bob:pw"));
        File.WriteAllText(Path.Combine(docker, "config.json"), $"{{\"auths\":{{\"https://reg.example/v1/\":{{\"auth\":\"{auth}\"}}}}}}");
        var vars = new Dictionary<string, string> { ["XDG_RUNTIME_DIR"] = Path.Combine(_dir, "run") };

        var found = new AuthFile(Env(vars)).Find("reg.example/lab/app");

        Assert.Equal(new RegistryCredential("bob", "pw"), found);
    }

    [Fact]
    public void Find_LegacyDockercfg_TopLevelIsTheAuthsMap()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "home"));
        string auth = Convert.ToBase64String(Encoding.UTF8.GetBytes("old:pw"));
        File.WriteAllText(Path.Combine(_dir, "home", ".dockercfg"), $"{{\"reg.example\":{{\"auth\":\"{auth}\"}}}}");

        Assert.Equal("old", new AuthFile(Env(new() { ["XDG_RUNTIME_DIR"] = Path.Combine(_dir, "run") })).Find("reg.example")!.Username);
    }

    [Fact]
    public void Remove_AllThenWrite_LeavesEmptyAuths()
    {
        var file = new AuthFile(Env(), Path.Combine(_dir, "a.json"));
        file.Store("reg.example", "u", "p");

        file.RemoveAll();

        Assert.Equal("{\n\t\"auths\": {}\n}", File.ReadAllText(Path.Combine(_dir, "a.json")));
        Assert.False(file.Remove("reg.example"));
    }
}

public sealed class CredentialHelperTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-helper-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Find_CredHelperForHost_AsksTheHelper()
    {
        string bin = Path.Combine(_dir, "bin");
        Directory.CreateDirectory(bin);
        string helper = Path.Combine(bin, "docker-credential-fake");
        // Answers only for reg.example; records what it was asked.
        File.WriteAllText(helper, $"#!/bin/sh\nread host\necho \"$1 $host\" > {_dir}/asked\n[ \"$host\" = reg.example ] || exit 1\necho '{{\"ServerURL\":\"reg.example\",\"Username\":\"helper-user\",\"Secret\":\"helper-secret\"}}'\n");
        File.SetUnixFileMode(helper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string auth = Path.Combine(_dir, "auth.json");
        File.WriteAllText(auth, "{\"auths\":{},\"credHelpers\":{\"reg.example\":\"fake\",\"other.example\":\"fake\"}}");
        var env = new HostEnvironment(k => k == "PATH" ? bin : null, _dir, 1000);
        var file = new AuthFile(env, auth);

        Assert.Equal(new RegistryCredential("helper-user", "helper-secret"), file.Find("reg.example/lab/app"));
        Assert.Equal("get reg.example", File.ReadAllText(Path.Combine(_dir, "asked")).Trim());
        Assert.Null(file.Find("other.example/x"));
    }
}
