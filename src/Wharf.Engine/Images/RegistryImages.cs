using Wharf.Client;
using Wharf.Client.Config;

namespace Wharf.Engine;

/// <summary>
/// The registry side of the image engine: the verbs that talk to a registry (pull, push, login,
/// logout, search, resolve, mirror; one file per verb under Images/), and the client they share —
/// TLS from the flags or registries.conf, credentials from <c>--creds</c> or auth.json,
/// certificates from certs.d, mirrors and aliases from registries.conf. What they store or read
/// locally goes through the engine's store.
/// </summary>
public sealed partial class RegistryImages : ImageEnginePart
{
    internal RegistryImages(ImageEngine engine)
        : base(engine)
    {
    }

    /// <summary>
    /// A client for <paramref name="host"/>: TLS verification from the flag, else from
    /// registries.conf; credentials from <c>--creds</c>, else auth.json by the image's repository key.
    /// </summary>
    internal RegistryClient CreateClient(string host, string authKey, RegistryAccess access, bool? insecure = null)
    {
        bool tlsVerify = access.TlsVerify ?? !(insecure ?? Registries.IsInsecure(host));
        RegistryCredential? credential;
        if (access.Credentials is { } creds)
        {
            credential = ParseCreds(creds);
        }
        else
        {
            try
            {
                credential = new AuthFile(Options.Environment, access.AuthFile).Find(authKey);
            }
            catch (InvalidDataException e)
            {
                throw new WharfException(e.Message, e);
            }
        }

        return new RegistryClient(host, new RegistryClientOptions
        {
            TlsVerify = tlsVerify,
            CertificateDirectory = CertificateDirectory(host, access.CertDir),
            Credential = credential,
            Transport = Options.Transport is { } t ? new NonDisposingHandler(t) : null,
            RetryDelay = Options.RetryDelay,
            Time = Options.Time,
        });
    }

    /// <summary>Worth a whole-blob retry: the connection dropped, or the registry failed on its side.</summary>
    internal static bool IsTransient(Exception e) =>
        e is HttpRequestException or IOException && e is not Content.ContentException
        || e is RegistryException { Status: >= System.Net.HttpStatusCode.InternalServerError };

    /// <summary>
    /// containers-certs.d(5): <c>--cert-dir</c>, else <c>HOST[:PORT]</c> under
    /// <c>~/.config/containers/certs.d</c> (non-root), <c>/etc/containers/certs.d</c>, <c>/etc/docker/certs.d</c>.
    /// </summary>
    internal string? CertificateDirectory(string host, string? certDir)
    {
        if (certDir is not null)
        {
            return certDir;
        }

        var roots = new List<string>();
        if (!Environment.IsRoot)
        {
            roots.Add(Path.Combine(Environment.ConfigHome, "containers", "certs.d"));
        }

        roots.Add(Path.Combine(Environment.SystemConfigDirectory, "certs.d"));
        roots.Add("/etc/docker/certs.d");
        return roots.Select(r => Path.Combine(r, host)).FirstOrDefault(Directory.Exists);
    }

    internal static RegistryCredential ParseCreds(string creds)
    {
        int colon = creds.IndexOf(':', StringComparison.Ordinal);
        if (creds.Length == 0 || colon == 0)
        {
            throw new WharfException("credentials must be of the form USERNAME[:PASSWORD]");
        }

        return colon < 0 ? new RegistryCredential(creds, string.Empty) : new RegistryCredential(creds[..colon], creds[(colon + 1)..]);
    }

    private sealed class NonDisposingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override void Dispose(bool disposing)
        {
            // The shared test transport outlives each client.
        }
    }
}

/// <summary>The flags every registry-touching verb shares.</summary>
public record RegistryAccess
{
    /// <summary><c>--tls-verify</c>; null when not given (registries.conf decides).</summary>
    public bool? TlsVerify { get; init; }

    public string? AuthFile { get; init; }

    /// <summary><c>--creds USERNAME[:PASSWORD]</c>.</summary>
    public string? Credentials { get; init; }

    /// <summary><c>--cert-dir</c>: CA certificates (<c>*.crt</c>) and a client certificate (<c>*.cert</c>/<c>*.key</c>).</summary>
    public string? CertDir { get; init; }
}
