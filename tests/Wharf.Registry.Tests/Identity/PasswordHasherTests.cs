using Wharf.Registry.Identity;

namespace Wharf.Registry.Tests.Identity;

public class PasswordHasherTests
{
    private readonly PasswordHasher _hasher = new(new IdentityOptions { BcryptWorkFactor = 4 });

    [Fact]
    public void Hash_ThenVerify_AcceptsOnlyTheSamePassword()
    {
        string hash = _hasher.Hash("Secret123");

        Assert.StartsWith("$2", hash, StringComparison.Ordinal);
        Assert.DoesNotContain("Secret123", hash, StringComparison.Ordinal);
        Assert.True(PasswordHasher.Verify("Secret123", hash));
        Assert.False(PasswordHasher.Verify("secret123", hash));
        Assert.False(PasswordHasher.Verify("Secret1234", hash));
    }

    [Fact]
    public void Hash_SamePasswordTwice_UsesDifferentSalts()
    {
        Assert.NotEqual(_hasher.Hash("Secret123"), _hasher.Hash("Secret123"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not a bcrypt hash")]
    public void Verify_MissingOrCorruptHash_IsFalse(string? hash)
    {
        Assert.False(PasswordHasher.Verify("Secret123", hash));
    }

    [Theory]
    [InlineData("Short1A", false)]
    [InlineData("alllowercase1", false)]
    [InlineData("ALLUPPERCASE1", false)]
    [InlineData("NoDigitsHere", false)]
    [InlineData("Harbor12345", true)]
    public void CheckPolicy_Password_FollowsHarborsRule(string password, bool acceptable)
    {
        Assert.Equal(acceptable, PasswordHasher.CheckPolicy(password) is null);
    }

    [Fact]
    public void CheckPolicy_LongerThanBcryptReads_IsRefused()
    {
        Assert.NotNull(PasswordHasher.CheckPolicy("Aa1" + new string('x', 70)));
    }

    [Fact]
    public void Generate_Password_MeetsThePolicyAndDiffers()
    {
        string a = PasswordHasher.Generate();
        Assert.Null(PasswordHasher.CheckPolicy(a));
        Assert.NotEqual(a, PasswordHasher.Generate());
    }

    [Fact]
    public void VerifySecret_RobotSecret_MatchesOnlyItsHash()
    {
        var hasher = new PasswordHasher(new IdentityOptions { BcryptWorkFactor = 4 });
        string hash = hasher.HashSecret("robot-secret");
        Assert.True(hasher.VerifySecret("robot-secret", hash, out bool legacy));
        Assert.False(legacy);
        Assert.False(hasher.VerifySecret("robot-secreT", hash, out _));
    }
}
