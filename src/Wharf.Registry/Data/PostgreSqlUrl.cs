using System.Globalization;
using Npgsql;

namespace Wharf.Registry.Data;

/// <summary>
/// <c>postgresql://USER:PASSWORD@HOST:PORT/DB?key=value</c> (libpq's URI form; <c>postgres://</c>
/// too) as Npgsql's connection settings. User and password are percent-decoded; query keys are
/// Npgsql connection-string keywords (<c>sslmode=require</c>, <c>Maximum Pool Size=50</c>).
/// </summary>
public static class PostgreSqlUrl
{
    public static bool IsPostgreSql(string? value) =>
        value is not null && (value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase));

    public static NpgsqlConnectionStringBuilder Parse(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!IsPostgreSql(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new FormatException("the database must be a URL postgresql://USER:PASSWORD@HOST:PORT/DATABASE");
        }

        string database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length == 0 || database.Contains('/', StringComparison.Ordinal))
        {
            throw new FormatException("the database URL must name one database: postgresql://USER:PASSWORD@HOST:PORT/DATABASE");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host.Trim('[', ']'),
            Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port,
            Database = database,
            // Npgsql pools; registry statements are short, so the default pool (100) rarely waits.
            Pooling = true,
            ApplicationName = "wharfd",
            // The stores' SQL is a fixed set run over and over: the server parses and plans each
            // statement once per connection, not once per execution (a manifest PUT's reads and writes).
            MaxAutoPrepare = 128,
        };

        if (uri.UserInfo.Length > 0)
        {
            int colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            }
        }

        foreach (string pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            string key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            string value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
            try
            {
                builder[key] = value;
            }
            catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException)
            {
                throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"the database URL's parameter '{key}' is not a PostgreSQL connection setting: {e.Message}"), e);
            }
        }

        return builder;
    }
}
