using Wharf.Client;
using Wharf.Client.Config;

namespace Wharf.Engine;

public sealed record LoginOptions : RegistryAccess
{
    /// <summary><c>host[:port]</c>, or <c>host/namespace[/repo]</c>; a scheme is stripped.</summary>
    public string? Registry { get; init; }

    public string? Username { get; init; }

    public string? Password { get; init; }

    /// <summary>Asks for what is missing; null when no terminal (then missing values are an error).</summary>
    public Func<string, bool, string?>? Prompt { get; init; }

    public bool GetLogin { get; init; }
}

public sealed record LoginReport(string Key, string Message);

public sealed record LogoutOptions
{
    public string? Registry { get; init; }

    public bool All { get; init; }

    public string? AuthFile { get; init; }
}

public sealed partial class RegistryImages
{
    /// <summary>
    /// podman login: check the credentials with an authenticated <c>GET /v2/</c> (answering the
    /// registry's Basic or Bearer challenge), then store them in auth.json under the given key.
    /// </summary>
    public async Task<LoginReport> LoginAsync(LoginOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        string key = LoginKey(options.Registry);
        string host = key.Split('/')[0];
        var authFile = new AuthFile(Options.Environment, options.AuthFile);
        if (options.GetLogin)
        {
            var stored = SafeFind(authFile, key);
            return stored is null
                ? throw new WharfException($"not logged into {key}")
                : new LoginReport(key, stored.Username);
        }

        string? username = options.Username;
        string? password = options.Password;
        if (username is null && password is null)
        {
            // podman first tries what is stored.
            if (SafeFind(authFile, key) is { } existing)
            {
                Log(false, $"Authenticating with existing credentials for {key}");
                if (await CheckAsync(host, existing, options, cancellationToken).ConfigureAwait(false))
                {
                    return new LoginReport(key, $"Existing credentials are valid. Already logged in to {key}");
                }

                Log(false, "Existing credentials are invalid, please enter valid username and password");
            }
        }

        if (string.IsNullOrEmpty(username))
        {
            username = options.Prompt?.Invoke("Username: ", false);
            if (string.IsNullOrEmpty(username))
            {
                throw new WharfException("getting username and password: reading username: EOF");
            }
        }

        if (password is null)
        {
            password = options.Prompt?.Invoke("Password: ", true);
            if (password is null)
            {
                throw new WharfException("getting username and password: reading password: EOF");
            }
        }

        if (password.Length == 0)
        {
            throw new WharfException("password must not be empty");
        }

        var credential = new RegistryCredential(username, password);
        if (!await CheckAsync(host, credential, options, cancellationToken).ConfigureAwait(false))
        {
            throw new WharfException($"logging into \"{key}\": invalid username/password");
        }

        try
        {
            authFile.Store(key, username, password);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new WharfException($"logging into \"{key}\": storing credentials: {e.Message}", e);
        }

        return new LoginReport(key, "Login Succeeded!");
    }

    private static RegistryCredential? SafeFind(AuthFile file, string key)
    {
        try
        {
            return file.FindExact(key) ?? file.Find(key);
        }
        catch (InvalidDataException e)
        {
            throw new WharfException(e.Message, e);
        }
    }

    private async Task<bool> CheckAsync(string host, RegistryCredential credential, RegistryAccess access, CancellationToken ct)
    {
        bool tlsVerify = access.TlsVerify ?? !Registries.IsInsecure(host);
        using var client = new RegistryClient(host, new RegistryClientOptions
        {
            TlsVerify = tlsVerify,
            CertificateDirectory = CertificateDirectory(host, access.CertDir),
            Credential = credential,
            Transport = Options.Transport is { } t ? new PassThroughHandler(t) : null,
            RetryDelay = Options.RetryDelay,
            Time = Options.Time,
        });
        try
        {
            return await client.CheckLoginAsync(ct).ConfigureAwait(false);
        }
        catch (RegistryException e) when (e.Status == System.Net.HttpStatusCode.Unauthorized)
        {
            return false;
        }
        catch (Exception e) when (e is RegistryException or HttpRequestException)
        {
            throw new WharfException($"authenticating creds for \"{host}\": {e.Message}", e);
        }
    }

    /// <summary>podman logout: removes the key from the primary auth file.</summary>
    public string Logout(LogoutOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var authFile = new AuthFile(Options.Environment, options.AuthFile);
        if (options.All)
        {
            authFile.RemoveAll();
            return "Removed login credentials for all registries";
        }

        string key = LoginKey(options.Registry);
        bool removed;
        try
        {
            removed = authFile.Remove(key);
        }
        catch (InvalidDataException e)
        {
            throw new WharfException(e.Message, e);
        }

        if (!removed)
        {
            throw new WharfException($"not logged into {key}");
        }

        return $"Removed login credentials for {key}";
    }

    /// <summary>The auth.json key for what the user typed: scheme stripped; the first search registry when nothing is given.</summary>
    internal string LoginKey(string? registry)
    {
        if (string.IsNullOrEmpty(registry))
        {
            // podman logs in to the first unqualified-search registry when none is named.
            return Registries.UnqualifiedSearchRegistries.FirstOrDefault()
                ?? throw new WharfException("please provide a registry to login to");
        }

        string key = registry;
        foreach (string scheme in new[] { "https://", "http://" })
        {
            if (key.StartsWith(scheme, StringComparison.Ordinal))
            {
                key = key[scheme.Length..];
            }
        }

        key = key.TrimEnd('/');
        if (key.Length == 0 || key.Contains("://", StringComparison.Ordinal))
        {
            throw new WharfException($"invalid registry \"{registry}\"");
        }

        return key;
    }

    private sealed class PassThroughHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override void Dispose(bool disposing)
        {
        }
    }
}
