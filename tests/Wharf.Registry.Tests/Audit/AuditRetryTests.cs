using System.Net;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Audit;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Audit;

/// <summary>
/// An audit entry whose write fails (a full disk answers SQLITE_FULL) is not dropped: the batch is
/// retried until the database takes it.
/// </summary>
public sealed class AuditRetryTests : IAsyncLifetime
{
    private readonly FailingAuditStore _store = new(failures: 2);
    private WharfServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await WharfServer.StartAsync(configureServices: s => s.AddSingleton<IAuditLogStore>(_store));

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Record_WhileTheDatabaseIsFull_IsRetriedUntilWritten()
    {
        await _server.CreateProjectAsync("lab");

        // Each failed attempt waits RetryDelay on the server's clock before the next one.
        for (int attempt = 1; attempt <= 2; attempt++)
        {
            await UntilAsync(() => _store.Attempts >= attempt, $"attempt {attempt}");
            Assert.DoesNotContain(_store.Written, e => e.ResourceType == "project" && e.Resource == "lab");
            _server.Clock.Advance(AuditLog.RetryDelay);
        }

        await UntilAsync(() => _store.Written.Any(e => e.Operation == "create" && e.ResourceType == "project" && e.Resource == "lab"), "the entry to be written");
        Assert.Equal(1, _store.Written.Count(e => e.ResourceType == "project" && e.Resource == "lab"));
        using var admin = _server.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("api/v2.0/audit-logs")).StatusCode);
    }

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        for (int i = 0; !condition(); i++)
        {
            Assert.True(i < 400, $"gave up waiting for {what}");
            await Task.Delay(25);
        }
    }

    private sealed class FailingAuditStore(int failures) : IAuditLogStore
    {
        private readonly Lock _lock = new();
        private readonly List<AuditEntry> _written = [];
        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        public IReadOnlyList<AuditEntry> Written
        {
            get
            {
                lock (_lock)
                {
                    return [.. _written];
                }
            }
        }

        public Task AppendAsync(IReadOnlyList<AuditEntry> entries, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _attempts) <= failures)
            {
                throw new SqliteException("database or disk is full", 13);
            }

            lock (_lock)
            {
                _written.AddRange(entries);
            }

            return Task.CompletedTask;
        }

        public Task<(IReadOnlyList<AuditEntry> Entries, long Total)> QueryAsync(AuditQuery query, CancellationToken cancellationToken) =>
            Task.FromResult<(IReadOnlyList<AuditEntry>, long)>((Written, Written.Count));

        public Task<int> PurgeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) => Task.FromResult(0);
    }
}
