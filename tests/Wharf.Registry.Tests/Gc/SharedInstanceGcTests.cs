using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Oci;
using Wharf.Registry.Data;
using Wharf.Registry.Gc;
using Wharf.Registry.Metadata;
using Wharf.Registry.Storage;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Gc;

/// <summary>
/// What several instances sharing one database coordinate through (migration 8): the pins of upload
/// commits and GC's deletion marks, and the leases of singleton jobs. Another instance is played by
/// calls on the same database, as its process would make them.
/// </summary>
public sealed class SharedInstanceGcTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private RegistryServer _server = null!;

    private GarbageCollector Gc => _server.Services.GetRequiredService<GarbageCollector>();

    private IMetadataStore Metadata => _server.Services.GetRequiredService<IMetadataStore>();

    public async Task InitializeAsync() => _server = await RegistryServer.StartAsync(s => s.AddSingleton<TimeProvider>(_clock));

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Run_BlobPinnedByAnotherInstancesCommit_IsKept()
    {
        byte[] loose = RandomNumberGenerator.GetBytes(700);
        var digest = await _server.PushBlobAsync("lab/a", loose);
        (await _server.Client.DeleteAsync($"/v2/lab/a/blobs/{digest}")).Dispose();
        _clock.Advance(TimeSpan.FromHours(2));

        // Another instance's commit of the same content has pinned it: it is about to link it.
        Assert.True(await Metadata.PinBlobAsync(digest, "other-upload", _clock.GetUtcNow() + TimeSpan.FromHours(1), TimeSpan.FromMinutes(10), default));
        Assert.Empty((await Gc.RunAsync(dryRun: false, default)).Removed);
        Assert.NotNull(_server.Services.GetRequiredService<IBlobStore>().Stat(digest));

        // Unpinned (the commit is over and linked nothing), it is garbage again.
        await Metadata.UnpinBlobAsync(digest, "other-upload", default);
        Assert.Equal(digest, Assert.Single((await Gc.RunAsync(dryRun: false, default)).Removed).Digest);
    }

    [Fact]
    public async Task Run_PinOfACrashedCommit_ExpiresAndStopsKeepingTheBlob()
    {
        var digest = await _server.PushBlobAsync("lab/a", RandomNumberGenerator.GetBytes(300));
        (await _server.Client.DeleteAsync($"/v2/lab/a/blobs/{digest}")).Dispose();
        Assert.True(await Metadata.PinBlobAsync(digest, "crashed", _clock.GetUtcNow() + TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(10), default));

        _clock.Advance(TimeSpan.FromHours(2));

        Assert.Equal(digest, Assert.Single((await Gc.RunAsync(dryRun: false, default)).Removed).Digest);
    }

    [Fact]
    public async Task Pin_WhileGcDeletesTheFile_IsRefusedUntilTheMarkIsLifted()
    {
        var digest = await _server.PushBlobAsync("lab/a", RandomNumberGenerator.GetBytes(300));
        (await _server.Client.DeleteAsync($"/v2/lab/a/blobs/{digest}")).Dispose();
        _clock.Advance(TimeSpan.FromHours(2));

        // GC's first step on another instance: the row goes and the mark is set in one transaction.
        Assert.True(await Metadata.DeleteBlobRecordIfUnreferencedAsync(digest, default));
        var until = _clock.GetUtcNow() + TimeSpan.FromHours(1);
        Assert.False(await Metadata.PinBlobAsync(digest, "upload", until, TimeSpan.FromMinutes(10), default));

        await Metadata.ClearBlobDeletionAsync(digest, default);
        Assert.True(await Metadata.PinBlobAsync(digest, "upload", until, TimeSpan.FromMinutes(10), default));
    }

    [Fact]
    public async Task Pin_MarkLeftByACrashedGc_IsIgnoredAfterItsLifetime()
    {
        var digest = Digest.Compute(RandomNumberGenerator.GetBytes(64));
        Assert.True(await Metadata.MarkUnrecordedBlobDeletingAsync(digest, default));
        Assert.False(await Metadata.PinBlobAsync(digest, "upload", _clock.GetUtcNow() + TimeSpan.FromHours(1), TimeSpan.FromMinutes(10), default));

        _clock.Advance(TimeSpan.FromMinutes(11));

        Assert.True(await Metadata.PinBlobAsync(digest, "upload", _clock.GetUtcNow() + TimeSpan.FromHours(1), TimeSpan.FromMinutes(10), default));
        // And a pinned digest is not marked: the file stays for the commit.
        Assert.False(await Metadata.MarkUnrecordedBlobDeletingAsync(digest, default));
    }

    [Fact]
    public async Task Lease_HeldByOneInstance_IsRefusedToAnotherUntilItExpires()
    {
        var database = _server.Services.GetRequiredService<RegistryDatabase>();
        var first = new DatabaseLeases(database, _clock);
        var second = new DatabaseLeases(database, _clock);

        Assert.True(await first.TryAcquireAsync("gc:schedule", TimeSpan.FromMinutes(5), default));
        Assert.False(await second.TryAcquireAsync("gc:schedule", TimeSpan.FromMinutes(5), default));
        Assert.True(await first.TryAcquireAsync("gc:schedule", TimeSpan.FromMinutes(5), default)); // its holder renews

        _clock.Advance(TimeSpan.FromMinutes(6));
        Assert.True(await second.TryAcquireAsync("gc:schedule", TimeSpan.FromMinutes(5), default));
        Assert.False(await first.TryAcquireAsync("gc:schedule", TimeSpan.FromMinutes(5), default));
    }

    [Fact]
    public async Task ClaimOccurrence_SameOccurrenceTwice_OnlyTheFirstInstanceRunsIt()
    {
        var database = _server.Services.GetRequiredService<RegistryDatabase>();
        var first = new DatabaseLeases(database, _clock);
        var second = new DatabaseLeases(database, _clock);
        var due = _clock.GetUtcNow();

        var claims = await Task.WhenAll(
            first.TryClaimOccurrenceAsync("retention:1", due, default), second.TryClaimOccurrenceAsync("retention:1", due, default));

        Assert.Equal(1, claims.Count(c => c));
        Assert.True(await second.TryClaimOccurrenceAsync("retention:1", due + TimeSpan.FromHours(1), default) ||
                    await first.TryClaimOccurrenceAsync("retention:1", due + TimeSpan.FromHours(1), default));
    }
}
