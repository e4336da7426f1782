using System.Security.Cryptography;
using System.Text;

namespace Wharf.Registry.Identity.Ldap;

/// <summary>What <see cref="RememberedDirectoryLogins.Check"/> found for a username and password.</summary>
public enum RememberedLogin
{
    /// <summary>No password of this name was verified within the window.</summary>
    Unknown,

    /// <summary>This very password was verified against the directory within the window.</summary>
    Matches,

    /// <summary>Another password of this name was verified within the window: this one is a guess.</summary>
    DifferentPassword,
}

/// <summary>
/// The last password the directory accepted for each name, and when, so that logins go on through a
/// directory outage for as long as the group memberships read with them count (<c>ldap_group_cache_seconds</c>).
/// Only in memory, never written anywhere: each entry is an HMAC-SHA256 of name and password under a key
/// made at random when the process starts, so a dump of it cannot be checked against a password list made
/// beforehand, and a restart forgets everything. One entry per name: a newer verified password replaces the
/// older one, and a password the directory refuses (changed there, or the account deleted) is forgotten.
/// </summary>
public sealed class RememberedDirectoryLogins
{
    // Far more people than one registry serves; past it the oldest entries go first.
    private const int Capacity = 100_000;

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (byte[] Hash, long UserId, DateTimeOffset VerifiedAt)> _entries = new(StringComparer.Ordinal);

    /// <summary>Notes that the directory accepted this password for this name (the account's local id) at <paramref name="verifiedAt"/>.</summary>
    public void Remember(string username, string password, long userId, DateTimeOffset verifiedAt)
    {
        byte[] hash = Hash(username, password);
        lock (_gate)
        {
            if (_entries.Count >= Capacity && !_entries.ContainsKey(username))
            {
                foreach (string oldest in _entries.OrderBy(e => e.Value.VerifiedAt).Take(Capacity / 10).Select(e => e.Key).ToList())
                {
                    _entries.Remove(oldest);
                }
            }

            _entries[username] = (hash, userId, verifiedAt);
        }
    }

    /// <summary>The directory refused this password for this name: if it is the one remembered, it no longer counts.</summary>
    public void Forget(string username, string password)
    {
        byte[] hash = Hash(username, password);
        lock (_gate)
        {
            if (_entries.TryGetValue(username, out var entry) && CryptographicOperations.FixedTimeEquals(entry.Hash, hash))
            {
                _entries.Remove(username);
            }
        }
    }

    /// <summary>Whether this password was verified for this name at or after <paramref name="since"/>; the account's id when it was.</summary>
    public RememberedLogin Check(string username, string password, DateTimeOffset since, out long userId)
    {
        byte[] hash = Hash(username, password);
        userId = 0;
        lock (_gate)
        {
            if (!_entries.TryGetValue(username, out var entry) || entry.VerifiedAt < since)
            {
                return RememberedLogin.Unknown;
            }

            if (!CryptographicOperations.FixedTimeEquals(entry.Hash, hash))
            {
                return RememberedLogin.DifferentPassword;
            }

            userId = entry.UserId;
            return RememberedLogin.Matches;
        }
    }

    private byte[] Hash(string username, string password) => HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(username + "\0" + password));
}
