using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Wharf.Registry.Identity;

namespace Wharf.Registry.Auth;

/// <summary>One granted resource of a token, as in the Docker token spec's <c>access</c> claim.</summary>
public sealed record GrantedAccess(string Type, string Name, IReadOnlyList<string> Actions)
{
    public bool Covers(AccessScope access) =>
        string.Equals(Type, access.Type, StringComparison.Ordinal) && string.Equals(Name, access.Name, StringComparison.Ordinal)
        && (Actions.Contains("*") || access.Actions.All(Actions.Contains));
}

public sealed record IssuedToken(string Token, int ExpiresIn, DateTimeOffset IssuedAt);

/// <summary>
/// A token whose signature, issuer, audience and lifetime have been checked. <see cref="Account"/> is the
/// account and token generation it was issued for (<c>user:&lt;id&gt;:&lt;generation&gt;</c>), when it names one.
/// </summary>
public sealed record ValidatedToken(string Subject, IReadOnlyList<GrantedAccess> Access, DateTimeOffset ExpiresAt, string? Account = null)
{
    public bool Covers(AccessScope access) => Access.Any(a => a.Covers(access));
}

/// <summary>
/// Issues and checks the JWTs of the Docker token protocol ("Token Authentication Implementation"):
/// ES256 with our <c>kid</c>, claims iss, sub, aud (the service), exp, nbf, iat, jti and access.
/// Checked tokens are remembered until they expire, so a pull's many requests verify the signature once.
/// Tokens issued for an account carry the private claim <c>wharf_account</c> (kind, id, token generation);
/// when this process revokes an account's tokens (<see cref="Revoke"/>: password change, secret refresh,
/// disabling, deletion), its earlier access tokens stop working at once instead of living out their lifetime.
/// </summary>
public sealed class RegistryTokens(TokenSigningKey key, IdentityOptions options, TimeProvider time)
{
    public const string AccountClaim = "wharf_account";

    /// <summary>Account (<c>user:12</c>) → the lowest token generation still honoured. In memory: see docs/auth.md.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _revokedBelow = new(StringComparer.Ordinal);

    /// <summary>Clocks of one machine agree; a few seconds absorb a token issued by a peer instance.</summary>
    private static readonly TimeSpan Leeway = TimeSpan.FromSeconds(10);

    private readonly Dictionary<string, ValidatedToken> _checked = new(StringComparer.Ordinal);
    private readonly Lock _checkedLock = new();

    public IssuedToken Issue(string subject, IReadOnlyList<GrantedAccess> access) => Issue(subject, access, options.TokenLifetime);

    /// <param name="account">The account and generation (<c>user:12:3</c>) the token is bound to, or null (anonymous).</param>
    public IssuedToken Issue(string subject, IReadOnlyList<GrantedAccess> access, TimeSpan lifetime, string? account = null)
    {
        var now = time.GetUtcNow();
        long iat = now.ToUnixTimeSeconds();
        long exp = (now + lifetime).ToUnixTimeSeconds();

        var header = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(header))
        {
            writer.WriteStartObject();
            writer.WriteString("typ", "JWT");
            writer.WriteString("alg", "ES256");
            writer.WriteString("kid", key.KeyId);
            writer.WriteEndObject();
        }

        var payload = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(payload))
        {
            writer.WriteStartObject();
            writer.WriteString("iss", options.TokenIssuer);
            writer.WriteString("sub", subject);
            writer.WriteString("aud", options.TokenService);
            writer.WriteNumber("exp", exp);
            writer.WriteNumber("nbf", iat);
            writer.WriteNumber("iat", iat);
            writer.WriteString("jti", Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));
            if (account is not null)
            {
                writer.WriteString(AccountClaim, account);
            }

            writer.WriteStartArray("access");
            foreach (var grant in access)
            {
                writer.WriteStartObject();
                writer.WriteString("type", grant.Type);
                writer.WriteString("name", grant.Name);
                writer.WriteStartArray("actions");
                foreach (string action in grant.Actions)
                {
                    writer.WriteStringValue(action);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        string signingInput = Base64Url.Encode(header.WrittenSpan) + "." + Base64Url.Encode(payload.WrittenSpan);
        byte[] signature = key.Key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return new IssuedToken(signingInput + "." + Base64Url.Encode(signature), (int)(exp - iat), DateTimeOffset.FromUnixTimeSeconds(iat));
    }

    /// <summary>The token's claims when it is ours, unexpired and meant for this service; else null with the reason.</summary>
    public ValidatedToken? Validate(string token, out string? error)
    {
        var now = time.GetUtcNow();
        lock (_checkedLock)
        {
            if (_checked.TryGetValue(token, out var known))
            {
                error = known.ExpiresAt <= now - Leeway ? "token has expired" : IsRevoked(known) ? "token has been revoked" : null;
                return error is null ? known : null;
            }
        }

        var validated = ValidateCore(token, now, out error);
        if (validated is not null && IsRevoked(validated))
        {
            error = "token has been revoked";
            return null;
        }

        if (validated is not null)
        {
            lock (_checkedLock)
            {
                if (_checked.Count >= 10_000)
                {
                    foreach (var stale in _checked.Where(e => e.Value.ExpiresAt <= now).Select(e => e.Key).ToList())
                    {
                        _checked.Remove(stale);
                    }

                    if (_checked.Count >= 10_000)
                    {
                        _checked.Clear();
                    }
                }

                _checked[token] = validated;
            }
        }

        return validated;
    }

    /// <summary>
    /// Refuses every token of the account issued with a generation below <paramref name="generation"/>
    /// (<see cref="long.MaxValue"/> for a deleted account: none of its tokens is honoured again).
    /// </summary>
    public void Revoke(string kind, long id, long generation) =>
        _revokedBelow.AddOrUpdate(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{kind}:{id}"), generation, (_, known) => Math.Max(known, generation));

    private bool IsRevoked(ValidatedToken token)
    {
        if (token.Account is null || _revokedBelow.IsEmpty)
        {
            return false;
        }

        int last = token.Account.LastIndexOf(':');
        return last > 0
            && _revokedBelow.TryGetValue(token.Account[..last], out long lowest)
            && (!long.TryParse(token.Account.AsSpan(last + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long generation) || generation < lowest);
    }

    private ValidatedToken? ValidateCore(string token, DateTimeOffset now, out string? error)
    {
        string[] parts = token.Split('.');
        if (parts.Length != 3 || !Base64Url.TryDecode(parts[0], out byte[] headerBytes) || !Base64Url.TryDecode(parts[1], out byte[] payloadBytes)
            || !Base64Url.TryDecode(parts[2], out byte[] signature))
        {
            error = "malformed token";
            return null;
        }

        try
        {
            using (var header = JsonDocument.Parse(headerBytes))
            {
                if (header.RootElement.ValueKind != JsonValueKind.Object
                    || !header.RootElement.TryGetProperty("alg", out var alg) || alg.ValueKind != JsonValueKind.String || alg.GetString() != "ES256")
                {
                    error = "unsupported token algorithm";
                    return null;
                }

                if (header.RootElement.TryGetProperty("kid", out var kid) && (kid.ValueKind != JsonValueKind.String || kid.GetString() != key.KeyId))
                {
                    error = "unknown signing key";
                    return null;
                }
            }

            byte[] signingInput = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
            if (signature.Length != 64 || !key.Key.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
            {
                error = "invalid token signature";
                return null;
            }

            using var payload = JsonDocument.Parse(payloadBytes);
            var root = payload.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = "malformed token";
                return null;
            }

            if (!root.TryGetProperty("iss", out var iss) || iss.ValueKind != JsonValueKind.String || iss.GetString() != options.TokenIssuer)
            {
                error = "token issuer is not this registry";
                return null;
            }

            if (!root.TryGetProperty("aud", out var aud) || !AudienceMatches(aud, options.TokenService))
            {
                error = "token audience is not this registry's service";
                return null;
            }

            // Time claims are NumericDate (RFC 7519 §2): a string, a fraction or a year beyond 9999 is a
            // malformed token (401), never an exception.
            if (!root.TryGetProperty("exp", out var exp) || !TryReadTime(exp, out var expiresAt))
            {
                error = "token has no valid expiry";
                return null;
            }

            if (expiresAt <= now - Leeway)
            {
                error = "token has expired";
                return null;
            }

            DateTimeOffset notBefore = default;
            if ((root.TryGetProperty("nbf", out var nbf) && !TryReadTime(nbf, out notBefore))
                || (root.TryGetProperty("iat", out var iat) && !TryReadTime(iat, out _)))
            {
                error = "malformed token time claim";
                return null;
            }

            if (notBefore > now + Leeway)
            {
                error = "token is not valid yet";
                return null;
            }

            string subject = root.TryGetProperty("sub", out var sub) && sub.ValueKind == JsonValueKind.String ? sub.GetString()! : "";
            var access = new List<GrantedAccess>();
            if (root.TryGetProperty("access", out var accessArray) && accessArray.ValueKind == JsonValueKind.Array)
            {
                foreach (var entry in accessArray.EnumerateArray())
                {
                    if (entry.ValueKind == JsonValueKind.Object
                        && entry.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
                        && entry.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String
                        && entry.TryGetProperty("actions", out var actions) && actions.ValueKind == JsonValueKind.Array)
                    {
                        access.Add(new GrantedAccess(type.GetString()!, name.GetString()!,
                            [.. actions.EnumerateArray().Where(a => a.ValueKind == JsonValueKind.String).Select(a => a.GetString()!)]));
                    }
                }
            }

            string? account = root.TryGetProperty(AccountClaim, out var acct) && acct.ValueKind == JsonValueKind.String ? acct.GetString() : null;
            error = null;
            return new ValidatedToken(subject, access, expiresAt, account);
        }
        catch (JsonException)
        {
            error = "malformed token";
            return null;
        }
    }

    private static bool TryReadTime(JsonElement claim, out DateTimeOffset at)
    {
        at = default;
        if (claim.ValueKind != JsonValueKind.Number || !claim.TryGetInt64(out long seconds)
            || seconds < DateTimeOffset.MinValue.ToUnixTimeSeconds() || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            return false;
        }

        at = DateTimeOffset.FromUnixTimeSeconds(seconds);
        return true;
    }

    private static bool AudienceMatches(JsonElement aud, string service) => aud.ValueKind switch
    {
        JsonValueKind.String => aud.GetString() == service,
        JsonValueKind.Array => aud.EnumerateArray().Any(a => a.ValueKind == JsonValueKind.String && a.GetString() == service),
        _ => false,
    };
}
