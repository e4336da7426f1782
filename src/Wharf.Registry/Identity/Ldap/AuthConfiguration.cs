using Microsoft.Extensions.Configuration;
using Wharf.Registry.Data;

namespace Wharf.Registry.Identity.Ldap;

/// <summary>
/// The authentication settings in force: the <c>Registry:Configurations</c> section of wharfd's
/// configuration (Harbor's key names) overlaid by what was set through <c>PUT /configurations</c>, which
/// is kept in the <c>configurations</c> table. Read once and again after every change.
/// </summary>
public sealed class AuthConfiguration(RegistryDatabase database, IConfiguration configuration)
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private LdapSettings? _current;
    private Dictionary<string, string>? _values;

    public async Task<LdapSettings> GetAsync(CancellationToken cancellationToken)
    {
        if (_current is { } current)
        {
            return current;
        }

        await LoadAsync(cancellationToken).ConfigureAwait(false);
        return _current!;
    }

    /// <summary>The merged key → value map (secrets included: callers mask them).</summary>
    public async Task<IReadOnlyDictionary<string, string>> ValuesAsync(CancellationToken cancellationToken)
    {
        if (_values is null)
        {
            await LoadAsync(cancellationToken).ConfigureAwait(false);
        }

        return _values!;
    }

    /// <summary>
    /// Stores the changed keys after checking that the settings they make are valid as a whole;
    /// throws <see cref="FormatException"/> and stores nothing otherwise.
    /// </summary>
    public async Task<LdapSettings> SetAsync(IReadOnlyDictionary<string, string> changes, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var merged = new Dictionary<string, string>(await ReadAsync(cancellationToken).ConfigureAwait(false), StringComparer.Ordinal);
            foreach (var (key, value) in changes)
            {
                merged[key] = value;
            }

            var settings = LdapSettings.From(merged);

            // Refused when set, with the reason; a value given in the configuration file is refused at each
            // connection with the same words (LdapDirectory), which the start check logs.
            settings.ThrowIfUnverifiedTls();
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var transaction = (System.Data.Common.DbTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            foreach (var (key, value) in changes)
            {
                await connection.ExecuteAsync(
                    "INSERT INTO configurations (key, value) VALUES ($k, $v) ON CONFLICT(key) DO UPDATE SET value = excluded.value;",
                    cancellationToken, ("$k", key), ("$v", value)).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            _values = merged;
            _current = settings;
            return settings;
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_current is not null)
            {
                return;
            }

            var values = await ReadAsync(cancellationToken).ConfigureAwait(false);
            _current = LdapSettings.From(values);
            _values = values;
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task<Dictionary<string, string>> ReadAsync(CancellationToken cancellationToken)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var child in configuration.GetSection("Registry:Configurations").GetChildren())
        {
            if (!LdapSettings.Keys.ContainsKey(child.Key))
            {
                throw new FormatException($"Registry:Configurations:{child.Key} is not a known configuration key");
            }

            if (child.Value is not null)
            {
                values[child.Key] = child.Value;
            }
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        foreach (var (key, value) in await connection.QueryAsync("SELECT key, value FROM configurations;", r => (r.GetString(0), r.GetString(1)), cancellationToken).ConfigureAwait(false))
        {
            values[key] = value;
        }

        return values;
    }
}
