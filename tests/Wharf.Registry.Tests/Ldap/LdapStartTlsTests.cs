using System.Net;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Ldap;

/// <summary>StartTLS on the directory's plain port: with the test CA a directory login works; without it the check fails closed.</summary>
public sealed class LdapStartTlsTests : IDisposable
{
    private readonly Slapd _slapd = Slapd.Start();

    public void Dispose() => _slapd.Dispose();

    private Dictionary<string, string?> StartTls(string caFile)
    {
        var settings = _slapd.Settings();
        settings["Registry:Configurations:ldap_allow_insecure"] = "false";
        settings["Registry:Configurations:ldap_start_tls"] = "true";
        settings["Registry:Configurations:ldap_ca_file"] = caFile;
        return settings;
    }

    [Fact]
    public async Task StartTls_WithTheTestCa_DirectoryLoginWorks()
    {
        await using var server = await WharfServer.StartAsync(StartTls(_slapd.CaFile));

        using var token = await server.RequestTokenAsync("alice", "AlicePass1");

        Assert.True(token.StatusCode == HttpStatusCode.OK, await token.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task StartTls_WithAnotherCa_FailsClosed()
    {
        using var other = new TempDirectory();
        string otherCa = Path.Combine(other.Path, "other-ca.pem");
        using (var key = System.Security.Cryptography.ECDsa.Create())
        {
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=not the directory's CA", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension(true, false, 0, true));
            using var ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));
            await File.WriteAllTextAsync(otherCa, ca.ExportCertificatePem());
        }

        await using var server = await WharfServer.StartAsync(StartTls(otherCa));

        using var token = await server.RequestTokenAsync("alice", "AlicePass1");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, token.StatusCode);
    }
}
