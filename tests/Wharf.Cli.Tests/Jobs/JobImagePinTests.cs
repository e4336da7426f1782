using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests.Jobs;

/// <summary><c>job submit</c> resolves its image when submitted: a missing one is refused then, and the job runs the digest it saw.</summary>
[Collection("containers")]
public sealed class JobImagePinTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = new();

    public void Dispose()
    {
        JobHelpers.CancelAll(_wharf);
        _wharf.Dispose();
    }

    [Theory]
    [InlineData("lab/bb:nosuchtag", "manifest unknown")]
    [InlineData("lab/nosuchrepo:1", "unknown")]
    public void Submit_MissingImageOrTag_Error125AndNothingSubmitted(string path, string reason)
    {
        var (code, stdout, stderr) = _wharf.Run("job", "submit", "--tls-verify=false", "--image", $"{fixture.Registry}/{path}", "--", "true");

        Assert.Equal(125, code);
        Assert.Empty(stdout);
        Assert.Contains($"{fixture.Registry}/{path}", stderr, StringComparison.Ordinal);
        Assert.Contains(reason, stderr, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(_wharf.Check("job", "ls", "-q"));
    }

    [Fact]
    public void Submit_TagMovedWhileQueued_RunsTheDigestSeenAtSubmission()
    {
        string moving = $"{fixture.Registry}/lab/moving:1";
        _wharf.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        _wharf.Check("push", "-q", "--tls-verify=false", "--creds", ContainerFixture.Creds, fixture.Image, moving);
        string context = Path.Combine(_wharf.Dir, "ctx");
        Directory.CreateDirectory(context);
        File.WriteAllText(Path.Combine(context, "Dockerfile"), $"FROM {fixture.Image}\nENV WHICH=moved\n");
        _wharf.Check("build", "--tls-verify=false", "-t", "localhost/moved:1", context);

        // One slot, held by a blocker, so the pinned job waits while the tag moves.
        _wharf.Env["WHARF_JOBS_MAX"] = "1";
        string blocker = JobHelpers.Submit(_wharf, fixture.Image, "--", "sh", "-c", "exec sleep 300");
        JobHelpers.WaitState(_wharf, blocker, "running");
        string pinned = JobHelpers.Submit(_wharf, moving, "--", "sh", "-c", "echo \"which=$WHICH\"");
        string resolved = (string)JobHelpers.Status(_wharf, pinned)["spec"]!["resolvedImage"]!;
        _wharf.Check("push", "-q", "--tls-verify=false", "--creds", ContainerFixture.Creds, "localhost/moved:1", moving);
        _wharf.Check("job", "cancel", blocker);

        var job = JobHelpers.WaitFinal(_wharf, pinned);

        Assert.Equal("completed", (string?)job["state"]);
        Assert.Equal("which=\n", _wharf.Check("job", "logs", pinned));
        Assert.StartsWith($"{fixture.Registry}/lab/moving@sha256:", resolved, StringComparison.Ordinal);
        Assert.Equal(moving, (string?)job["spec"]!["image"]);
    }
}
