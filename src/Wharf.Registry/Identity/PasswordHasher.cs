using System.Security.Cryptography;
using System.Text;

namespace Wharf.Registry.Identity;

/// <summary>bcrypt for people's passwords (slow on purpose); robots' generated secrets are long random strings, so SHA-256 suffices for them.</summary>
public sealed class PasswordHasher(IdentityOptions options)
{
    /// <summary>bcrypt reads at most 72 bytes; a longer password would silently collide with its prefix.</summary>
    public const int MaxPasswordBytes = 72;

    public string Hash(string password) => BCrypt.Net.BCrypt.HashPassword(password, options.BcryptWorkFactor);

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

    public static string HashSecret(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    public static bool VerifySecret(string secret, string hash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(HashSecret(secret)), Encoding.ASCII.GetBytes(hash));
}
