namespace Wharf.Cli.Tests.Images;

[Collection("registry")]
public class PushLoginHintTests(RegistryFixture registry)
{
    [Fact]
    public void Push_AuthRegistryWithoutLogin_SaysToLogInFirst()
    {
        using var wharf = new WharfRunner();
        wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");

        var push = wharf.Run("push", "--tls-verify=false", $"{registry.Open}/lab/fixture:1", $"{registry.Auth}/lab/private:nologin");

        Assert.Equal(125, push.ExitCode);
        string error = push.ErrLines[^1];
        Assert.StartsWith("Error: writing blob: ", error, StringComparison.Ordinal);
        Assert.EndsWith($"; log in with \"wharf login {registry.Auth}\" and push again", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Push_OpenRegistryUnreachableRepository_NoLoginHint()
    {
        using var wharf = new WharfRunner();
        wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");

        // A refusal that is not about credentials (here: a registry that does not answer) gets no login advice.
        var push = wharf.Run("push", "--tls-verify=false", $"{registry.Open}/lab/fixture:1", $"127.0.0.1:{Wharf.Testing.LoopbackPort.Free()}/lab/x:1");

        Assert.Equal(125, push.ExitCode);
        Assert.DoesNotContain("wharf login", push.Stderr, StringComparison.Ordinal);
    }
}
