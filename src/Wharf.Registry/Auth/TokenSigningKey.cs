using System.Security.Cryptography;

namespace Wharf.Registry.Auth;

/// <summary>
/// The P-256 key that signs registry tokens (ES256, RFC 7518 §3.4). Created on first start as
/// <c>&lt;data-dir&gt;/token-signing-key.pem</c> (PKCS#8, mode 0600, written then renamed) and kept,
/// so tokens survive a restart. The <c>kid</c> is the base64url SHA-256 of the public key (SPKI).
/// </summary>
public sealed class TokenSigningKey : IDisposable
{
    public const string FileName = "token-signing-key.pem";

    private TokenSigningKey(ECDsa key)
    {
        Key = key;
        KeyId = Base64Url.Encode(SHA256.HashData(key.ExportSubjectPublicKeyInfo()))[..32];
    }

    public ECDsa Key { get; }

    public string KeyId { get; }

    public static TokenSigningKey LoadOrCreate(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        string path = Path.Combine(dataDirectory, FileName);
        var key = ECDsa.Create();
        try
        {
            if (File.Exists(path))
            {
                key.ImportFromPem(File.ReadAllText(path));
                return new TokenSigningKey(key);
            }

            key.GenerateKey(ECCurve.NamedCurves.nistP256);
            string temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
            var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var stream = OperatingSystem.IsWindows()
                       ? new FileStream(temp, FileMode.CreateNew, FileAccess.Write)
                       : new FileStream(temp, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = mode }))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(key.ExportPkcs8PrivateKeyPem());
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }

            try
            {
                // Two processes starting together: the first rename wins and both use its key.
                File.Move(temp, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                File.Delete(temp);
                key.ImportFromPem(File.ReadAllText(path));
            }

            return new TokenSigningKey(key);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    public void Dispose() => Key.Dispose();
}

/// <summary>base64url without padding (RFC 4648 §5), as JWS uses.</summary>
internal static class Base64Url
{
    public static string Encode(ReadOnlySpan<byte> data) => System.Buffers.Text.Base64Url.EncodeToString(data);

    public static bool TryDecode(string text, out byte[] data)
    {
        try
        {
            data = System.Buffers.Text.Base64Url.DecodeFromChars(text);
            return true;
        }
        catch (FormatException)
        {
            data = [];
            return false;
        }
    }
}
