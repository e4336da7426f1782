using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Wharf.Registry.Identity;

/// <summary>A password check refused without being made: too many recent failures for the account or from the address.</summary>
public sealed class LoginThrottledException(TimeSpan retryAfter, string reason) : Exception(reason)
{
    /// <summary>When the caller may try again (the <c>Retry-After</c> header, whole seconds, at least one).</summary>
    public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>
/// Counts failed password checks per account (the name as typed, case folded, known or not) and per
/// source address, each in a window that opens at its first failure. When a count reaches its limit,
/// every check for that account or from that address is refused, right or wrong, until the window
/// ends; then the count starts again. A correct password clears its account's count (not its
/// address's: one good login must not buy another round of guesses at other accounts). Memory is
/// bounded: expired windows are swept when a table grows past <see cref="MaxTracked"/>.
/// </summary>
public sealed partial class LoginThrottle(IdentityOptions options, TimeProvider time, ILogger<LoginThrottle> logger)
{
    private const int MaxTracked = 100_000;

    private readonly ConcurrentDictionary<string, Window> _accounts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Window> _sources = new(StringComparer.Ordinal);

    /// <summary>Throws <see cref="LoginThrottledException"/> when the account or the source is locked out.</summary>
    public void ThrowIfLocked(string account, string? source)
    {
        var now = time.GetUtcNow();
        if (Locked(_accounts, AccountKey(account), options.LoginFailuresPerAccount, now) is { } accountWait)
        {
            LogRefused(logger, account, source ?? "-", "account");
            throw new LoginThrottledException(accountWait, "too many failed logins for this account; try again later");
        }

        if (source is not null && Locked(_sources, source, options.LoginFailuresPerSource, now) is { } sourceWait)
        {
            LogRefused(logger, account, source, "source");
            throw new LoginThrottledException(sourceWait, "too many failed logins from this address; try again later");
        }
    }

    public void Failed(string account, string? source)
    {
        var now = time.GetUtcNow();
        if (Count(_accounts, AccountKey(account), now) == options.LoginFailuresPerAccount)
        {
            LogLockedOut(logger, "account", account, options.LoginFailuresPerAccount, options.LoginFailureWindow);
        }

        if (source is not null && Count(_sources, source, now) == options.LoginFailuresPerSource)
        {
            LogLockedOut(logger, "source", source, options.LoginFailuresPerSource, options.LoginFailureWindow);
        }
    }

    public void Succeeded(string account) => _accounts.TryRemove(AccountKey(account), out _);

    /// <summary>Case-folded and cut at 256 characters (longer than any valid name), so a flood of huge names cannot fill memory.</summary>
    private static string AccountKey(string account) => (account.Length > 256 ? account[..256] : account).ToLowerInvariant();

    private TimeSpan? Locked(ConcurrentDictionary<string, Window> table, string key, int limit, DateTimeOffset now)
    {
        if (limit <= 0 || !table.TryGetValue(key, out var window) || window.Failures < limit)
        {
            return null;
        }

        var end = window.Start + options.LoginFailureWindow;
        if (end <= now)
        {
            table.TryRemove(new KeyValuePair<string, Window>(key, window));
            return null;
        }

        return end - now;
    }

    private int Count(ConcurrentDictionary<string, Window> table, string key, DateTimeOffset now)
    {
        if (table.Count >= MaxTracked)
        {
            Sweep(table, now);
        }

        var updated = table.AddOrUpdate(
            key,
            static (_, at) => new Window(at, 1),
            (_, window, at) => window.Start + options.LoginFailureWindow <= at ? new Window(at, 1) : window with { Failures = window.Failures + 1 },
            now);
        return updated.Failures;
    }

    private void Sweep(ConcurrentDictionary<string, Window> table, DateTimeOffset now)
    {
        foreach (var entry in table)
        {
            if (entry.Value.Start + options.LoginFailureWindow <= now)
            {
                table.TryRemove(entry);
            }
        }

        // Still full of live windows (a flood of distinct names): forgetting them is better than
        // growing without bound; the per-source limit still holds each address back.
        if (table.Count >= MaxTracked)
        {
            table.Clear();
        }
    }

    private readonly record struct Window(DateTimeOffset Start, int Failures);

    [LoggerMessage(EventId = 4110, Level = LogLevel.Warning, Message = "Login throttled: {Kind} {Key} reached {Limit} failed logins; refused for up to {Window}")]
    private static partial void LogLockedOut(ILogger logger, string kind, string key, int limit, TimeSpan window);

    [LoggerMessage(EventId = 4111, Level = LogLevel.Information, Message = "Login for {Account} from {Source} refused without checking: the {Kind} is throttled")]
    private static partial void LogRefused(ILogger logger, string account, string source, string kind);
}
