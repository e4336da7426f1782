using System.Security.Cryptography;
using System.Text;

namespace Wharf.Registry.Identity;

/// <summary>
/// bcrypt for people's passwords and robots' secrets alike (salted and slow on purpose: a robot's secret
/// may be chosen by a person too). Robot secrets stored by earlier versions as unsalted SHA-256 hex
/// still verify (<see cref="VerifySecret"/> says when one should be rewritten as bcrypt).
/// </summary>
public class PasswordHasher(IdentityOptions options)
{
    private readonly Lazy<string> _dummyHash = new(() => BCrypt.Net.BCrypt.HashPassword(Generate(), options.BcryptWorkFactor));
    /// <summary>bcrypt reads at most 72 bytes; a longer password would silently collide with its prefix.</summary>
    public const int MaxPasswordBytes = 72;

    public string Hash(string password) => BCrypt.Net.BCrypt.HashPassword(password, options.BcryptWorkFactor);

    /// <summary>
    /// Checks a password against a stored hash; with no hash (unknown or disabled account) it checks
    /// against a dummy hash of the same cost, so a refusal takes as long whether the name exists or not.
    /// </summary>
    public virtual bool Matches(string password, string? hash) => Verify(password, string.IsNullOrEmpty(hash) ? _dummyHash.Value : hash) && !string.IsNullOrEmpty(hash);

    public static bool Verify(string password, string? hash)
    {
        if (string.IsNullOrEmpty(hash))
        {
            return false;
        }

        try
        {
            return BCrypt.Net.BCrypt.Verify(password, hash);
        }
        catch (BCrypt.Net.SaltParseException)
        {
            return false;
        }
    }

    /// <summary>
    /// Harbor's password policy: 8 to 128 characters with an upper-case letter, a lower-case letter and a
    /// digit; capped here at bcrypt's 72 bytes. Null when acceptable, else the reason.
    /// </summary>
    public static string? CheckPolicy(string? password)
    {
        if (string.IsNullOrEmpty(password) || password.Length < 8)
        {
            return "password must be at least 8 characters long";
        }

        if (Encoding.UTF8.GetByteCount(password) > MaxPasswordBytes)
        {
            return $"password must be at most {MaxPasswordBytes} bytes long";
        }

        if (!password.Any(char.IsUpper) || !password.Any(char.IsLower) || !password.Any(char.IsDigit))
        {
            return "password must contain at least one upper-case letter, one lower-case letter and one digit";
        }

        return null;
    }

    /// <summary>A password that meets the policy: 24 characters from a 62-letter alphabet plus a fixed tail guaranteeing each class.</summary>
    public static string Generate() => RandomNumberGenerator.GetString("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789", 24) + "Aa1";

    /// <summary>The hash a robot secret is stored as: bcrypt, as for passwords.</summary>
    public string HashSecret(string secret) => Hash(secret);

    /// <summary>
    /// A robot secret against its stored hash: bcrypt, or the unsalted SHA-256 hex of earlier versions
    /// (<paramref name="legacy"/> true: the caller should store a bcrypt hash now that it knows the secret).
    /// </summary>
    public bool VerifySecret(string secret, string? hash, out bool legacy)
    {
        legacy = hash is { Length: 64 } && hash.All(char.IsAsciiHexDigitLower);
        if (!legacy)
        {
            return Matches(secret, hash);
        }

        string computed = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(computed), Encoding.ASCII.GetBytes(hash!));
    }
}
