using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Proxy;

/// <summary>
/// An HTTPS upstream whose certificate a private test CA issued: with that CA given as the
/// endpoint's <c>ca_certificate</c> the proxy pulls through it; without it (or with another CA, or
/// for a certificate made out to another host) the TLS check refuses it, and a bad PEM is a 400.
/// </summary>
public sealed class UpstreamCaTests : IAsyncLifetime
{
    private X509Certificate2 _ca = null!;
    private X509Certificate2 _leaf = null!;
    private ScriptedUpstream _upstream = null!;
    private WharfServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _ca = CreateCa("CN=wharf test CA");
        _leaf = Issue(_ca, "CN=127.0.0.1", ip: IPAddress.Loopback); // Kestrel uses it as long as it runs
        _upstream = await ScriptedUpstream.StartAsync(_leaf);
        _server = await WharfServer.StartAsync();
        _admin = _server.Admin();
    }

    public async Task DisposeAsync()
    {
        _admin?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (_upstream is not null)
        {
            await _upstream.DisposeAsync();
        }

        _leaf?.Dispose();
        _ca?.Dispose();
    }

    [Fact]
    public async Task Pull_TlsUpstreamWithTheEndpointsCa_Served()
    {
        var (digest, body) = _upstream.AddImage("lab/app", "1", ProxySetup.RandomLayer());
        long id = await RegisterAsync("tls", _ca.ExportCertificatePem());
        await ProxySetup.CreateProxyProjectAsync(_server, "cache", id);

        var pulled = await ProxySetup.GetManifestAsync(_admin, "cache/lab/app", "1");
        Assert.Equal(digest, pulled.Digest);
        Assert.NotEmpty(await ProxySetup.GetBlobAsync(_admin, "cache/lab/app", ProxySetup.BlobsOf(body)[1]));

        using var ping = await _admin.PostAsJsonAsync("api/v2.0/registries/ping", new { id });
        Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
        using var read = await _admin.GetAsync($"api/v2.0/registries/{id}");
        var json = await read.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("BEGIN CERTIFICATE", json.GetProperty("ca_certificate").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_TlsUpstreamWithoutItsCa_RefusedNamingTheUpstream()
    {
        _upstream.AddImage("lab/app", "1", ProxySetup.RandomLayer());
        long id = await RegisterAsync("tls-system-trust", null);
        await ProxySetup.CreateProxyProjectAsync(_server, "cache", id);

        using var response = await _admin.GetAsync("v2/cache/lab/app/manifests/1");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("tls-system-trust", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, _upstream.Requests("GET /v2/lab/app/manifests/1"));
    }

    [Fact]
    public async Task Ping_AnotherCaOrAnotherHostsCertificate_400()
    {
        using var other = CreateCa("CN=some other CA");
        using var ping = await _admin.PostAsJsonAsync("api/v2.0/registries/ping",
            new { name = "x", type = "docker-registry", url = _upstream.Url.ToString(), ca_certificate = other.ExportCertificatePem() });
        Assert.Equal(HttpStatusCode.BadRequest, ping.StatusCode);

        // The right CA, but a certificate made out to another name: the host name is still checked.
        using var wrongHostLeaf = Issue(_ca, "CN=registry.example", dns: "registry.example");
        await using var wrongHost = await ScriptedUpstream.StartAsync(wrongHostLeaf);
        using var named = await _admin.PostAsJsonAsync("api/v2.0/registries/ping",
            new { name = "y", type = "docker-registry", url = wrongHost.Url.ToString(), ca_certificate = _ca.ExportCertificatePem() });
        Assert.Equal(HttpStatusCode.BadRequest, named.StatusCode);

        using var right = await _admin.PostAsJsonAsync("api/v2.0/registries/ping",
            new { name = "z", type = "docker-registry", url = _upstream.Url.ToString(), ca_certificate = _ca.ExportCertificatePem() });
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
    }

    [Fact]
    public async Task Register_NotAPemCertificate_400AndNothingStored()
    {
        using var response = await _admin.PostAsJsonAsync("api/v2.0/registries",
            new { name = "bad-ca", type = "docker-registry", url = _upstream.Url.ToString(), ca_certificate = "not a certificate" });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("ca_certificate", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var list = await _admin.GetAsync("api/v2.0/registries?name=bad-ca");
        Assert.Equal(0, (await list.Content.ReadFromJsonAsync<JsonElement>()).GetArrayLength());
    }

    [Fact]
    public async Task Update_EmptyCa_RemovesIt()
    {
        long id = await RegisterAsync("tls-edit", _ca.ExportCertificatePem());

        using var put = await _admin.PutAsJsonAsync($"api/v2.0/registries/{id}", new { ca_certificate = "" });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);

        using var read = await _admin.GetAsync($"api/v2.0/registries/{id}");
        var json = await read.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(!json.TryGetProperty("ca_certificate", out var ca) || ca.ValueKind == JsonValueKind.Null, json.ToString());
        using var ping = await _admin.PostAsJsonAsync("api/v2.0/registries/ping", new { id });
        Assert.Equal(HttpStatusCode.BadRequest, ping.StatusCode);
    }

    private async Task<long> RegisterAsync(string name, string? caPem)
    {
        using var response = await _admin.PostAsJsonAsync("api/v2.0/registries",
            new { name, type = "docker-registry", url = _upstream.Url.ToString(), insecure = false, ca_certificate = caPem });
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.Created);
        return long.Parse(response.Headers.Location!.ToString().Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static X509Certificate2 CreateCa(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
    }

    /// <summary>A server certificate the CA signs, for an IP address or a DNS name, with its private key (for Kestrel).</summary>
    private static X509Certificate2 Issue(X509Certificate2 ca, string subject, IPAddress? ip = null, string? dns = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        if (ip is not null)
        {
            san.AddIpAddress(ip);
        }

        if (dns is not null)
        {
            san.AddDnsName(dns);
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        byte[] serial = RandomNumberGenerator.GetBytes(12);
        using var ecdsaCa = ca.GetECDsaPrivateKey()!;
        using var issued = request.Create(ca.SubjectName, X509SignatureGenerator.CreateForECDsa(ecdsaCa), DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(2), serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        // Kestrel on Linux wants a key it can use after the ephemeral one is gone: round-trip through PKCS#12.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }
}
