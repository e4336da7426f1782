using System.Security.Cryptography.X509Certificates;
using Wharf.Registry;

// wharfd: the registry host. Flags beyond ASP.NET Core's own (--urls, --Key=Value):
//   --data-dir PATH        blobs, uploads and the database (default ./wharf-data; env WHARF_DATA_DIR)
//   --tls-cert PEM --tls-key PEM   serve HTTPS with this certificate (use https:// in --urls)
var (dataDir, tlsCert, tlsKey, rest) = ServerArguments.Parse(args);
var builder = WebApplication.CreateBuilder(rest);

if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("ASPNETCORE_URLS")))
{
    builder.WebHost.UseUrls(tlsCert is null ? "http://127.0.0.1:5000" : "https://127.0.0.1:5000");
}

if (tlsCert is not null)
{
    var cert = X509Certificate2.CreateFromPemFile(tlsCert, tlsKey);
    builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(https => https.ServerCertificate = cert));
}

// One line per event; WHARF_LOG_FORMAT=json writes one JSON object per line for log shippers.
builder.Logging.ClearProviders();
if (string.Equals(Environment.GetEnvironmentVariable("WHARF_LOG_FORMAT"), "json", StringComparison.OrdinalIgnoreCase))
{
    builder.Logging.AddJsonConsole(o =>
    {
        o.UseUtcTimestamp = true;
        o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
    });
}
else
{
    builder.Logging.AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        o.UseUtcTimestamp = true;
    });
}

// Everything else (limits, services, endpoints) is composed where the tests compose it too.
WebApplication app;
try
{
    app = WharfApplication.Build(builder, o =>
    {
        o.DataDirectory = dataDir ?? Environment.GetEnvironmentVariable("WHARF_DATA_DIR") ?? builder.Configuration["Registry:DataDirectory"] ?? "wharf-data";
    });
}
catch (Wharf.Registry.Storage.DataDirectoryInUseException e)
{
    Console.Error.WriteLine("Error: " + e.Message);
    return 1;
}

app.Run();
return 0;

internal static class ServerArguments
{
    public static (string? DataDir, string? TlsCert, string? TlsKey, string[] Remaining) Parse(string[] args)
    {
        string? dataDir = null, cert = null, key = null;
        var rest = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string? Value(string name)
            {
                if (a.StartsWith(name + "=", StringComparison.Ordinal))
                {
                    return a[(name.Length + 1)..];
                }

                if (a == name)
                {
                    if (i + 1 >= args.Length)
                    {
                        Console.Error.WriteLine($"Error: {name} needs a value");
                        Environment.Exit(2);
                    }

                    return args[++i];
                }

                return null;
            }

            if (Value("--data-dir") is { } d)
            {
                dataDir = d;
            }
            else if (Value("--tls-cert") is { } c)
            {
                cert = c;
            }
            else if (Value("--tls-key") is { } k)
            {
                key = k;
            }
            else
            {
                rest.Add(a);
            }
        }

        if ((cert is null) != (key is null))
        {
            Console.Error.WriteLine("Error: --tls-cert and --tls-key go together");
            Environment.Exit(2);
        }

        return (dataDir, cert, key, rest.ToArray());
    }
}
