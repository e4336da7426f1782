using FsCheck;
using FsCheck.Fluent;
using Wharf.Registry.Replication;

namespace Wharf.Registry.Tests.Replication;

/// <summary>Bounded properties of the filter pattern parser over arbitrary and name-shaped input.</summary>
public sealed class DoublestarProperties
{
    private static readonly Gen<string> NameLike =
        Gen.ListOf(Gen.Elements("a", "b", "1", ".", "-", "_", "/", "*", "?", "[", "]", "{", "}", ",", "!", "\\", "**", "^", "$", "(", ")"))
            .Select(parts => string.Concat(parts));

    private static readonly Gen<string> Plain =
        Gen.ListOf(Gen.Elements("a", "b", "z", "0", "9", ".", "-", "_", "/")).Select(parts => string.Concat(parts));

    [Fact]
    public void TryCompile_AnyPattern_NeverThrows_AndACompiledOneAnswers()
    {
        var property = Prop.ForAll(Arb.From(NameLike), Arb.From(Plain), (pattern, candidate) =>
        {
            if (DoublestarPattern.TryCompile(pattern, out var regex, out string? error))
            {
                _ = regex.IsMatch(candidate);
                return error is null;
            }

            return !string.IsNullOrEmpty(error);
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(500), property);
    }

    [Fact]
    public void IsMatch_PlainNames_MatchThemselvesAndDoubleStarMatchesAll()
    {
        var property = Prop.ForAll(Arb.From(Plain), Arb.From(Plain), (name, other) =>
            DoublestarPattern.IsMatch(name, name)
            && DoublestarPattern.IsMatch("**", name)
            && DoublestarPattern.IsMatch(name, other) == (name == other));
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(500), property);
    }
}
