using System.Data.Common;
using System.Runtime.ExceptionServices;

namespace Wharf.Registry.Data;

/// <summary>
/// Group commit: writes that arrive while a commit is running share the next one. A writer hands its
/// work to <see cref="SubmitAsync"/>; one flusher at a time takes everything queued (at most
/// <see cref="MaxBatch"/>), runs each piece of work in its own savepoint of one transaction and
/// commits once, so N concurrent writers cost one durable commit (one WAL fsync on SQLite, one WAL
/// flush on PostgreSQL) instead of N, and on SQLite they no longer queue on the busy handler's sleeps.
/// <para>
/// Each writer gets its own result or its own exception: work that throws is rolled back to its
/// savepoint and the others still commit. Only a failure of the transaction itself (BEGIN, COMMIT, a
/// savepoint the database dropped with the whole transaction) fails every writer of the batch, and
/// then nothing of the batch was committed. A result is handed out only after COMMIT returned, so an
/// acknowledged write is as durable as the database's commit makes it.
/// </para>
/// <para>
/// A writer alone pays nothing extra: with one piece of work queued, there is no savepoint. A writer
/// whose cancellation token fires before its turn is dropped (its task cancelled, nothing written);
/// once its work has started, the outcome is the commit's, and its task completes only then, so a
/// caller never hears "cancelled" about a write that lands afterwards.
/// </para>
/// </summary>
/// <typeparam name="TWork">What one writer asks for.</typeparam>
/// <typeparam name="TResult">What it gets back.</typeparam>
public sealed class GroupCommit<TWork, TResult>
{
    /// <summary>The most pieces of work one transaction takes; the rest wait for the next.</summary>
    public const int MaxBatch = 64;

    private readonly Func<CancellationToken, Task<DbConnection>> _open;
    private readonly Func<DbConnection, IReadOnlyList<TWork>, CancellationToken, Task<DbTransaction>> _begin;
    private readonly Func<DbConnection, TWork, CancellationToken, Task<TResult>> _run;
    private readonly object _gate = new();
    private List<Pending> _queue = [];
    private bool _flushing;
    private long _commits;
    private long _writes;

    /// <param name="open">Opens a connection (from the pool).</param>
    /// <param name="begin">Begins the store's kind of write transaction on it.</param>
    /// <param name="run">One writer's work, inside the open transaction; throws to refuse it.</param>
    public GroupCommit(
        Func<CancellationToken, Task<DbConnection>> open,
        Func<DbConnection, CancellationToken, Task<DbTransaction>> begin,
        Func<DbConnection, TWork, CancellationToken, Task<TResult>> run)
        : this(open, begin is null ? null! : (c, _, ct) => begin(c, ct), run)
    {
    }

    /// <param name="open">Opens a connection (from the pool).</param>
    /// <param name="begin">Begins the store's kind of write transaction on it for the batch's work (which may choose its locks).</param>
    /// <param name="run">One writer's work, inside the open transaction; throws to refuse it.</param>
    public GroupCommit(
        Func<CancellationToken, Task<DbConnection>> open,
        Func<DbConnection, IReadOnlyList<TWork>, CancellationToken, Task<DbTransaction>> begin,
        Func<DbConnection, TWork, CancellationToken, Task<TResult>> run)
    {
        _open = open ?? throw new ArgumentNullException(nameof(open));
        _begin = begin ?? throw new ArgumentNullException(nameof(begin));
        _run = run ?? throw new ArgumentNullException(nameof(run));
    }

    /// <summary>Transactions committed so far (each carrying one or more writes).</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Writes committed so far.</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>Queues <paramref name="work"/>; completes when the transaction that carried it has committed (or with its own error).</summary>
    public Task<TResult> SubmitAsync(TWork work, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var pending = new Pending(work, cancellationToken);
        bool start;
        lock (_gate)
        {
            _queue.Add(pending);
            start = !_flushing;
            _flushing = true;
        }

        if (start)
        {
            // The flusher runs apart from the request that started it: it serves every writer queued
            // behind, so no single request's cancellation or context may stop it.
            _ = Task.Run(FlushAsync, CancellationToken.None);
        }

        return pending.Completion.Task;
    }

    private async Task FlushAsync()
    {
        while (true)
        {
            List<Pending> batch;
            lock (_gate)
            {
                if (_queue.Count == 0)
                {
                    _flushing = false;
                    return;
                }

                if (_queue.Count <= MaxBatch)
                {
                    batch = _queue;
                    _queue = [];
                }
                else
                {
                    batch = _queue.GetRange(0, MaxBatch);
                    _queue.RemoveRange(0, MaxBatch);
                }
            }

            await CommitAsync(batch).ConfigureAwait(false);
        }
    }

    private async Task CommitAsync(List<Pending> batch)
    {
        var live = new List<Pending>(batch.Count);
        foreach (var pending in batch)
        {
            if (pending.CancellationToken.IsCancellationRequested)
            {
                pending.Completion.TrySetCanceled(pending.CancellationToken);
            }
            else
            {
                live.Add(pending);
            }
        }

        if (live.Count == 0)
        {
            return;
        }

        // The work runs to its end once begun (see the class comment): no request's token reaches it.
        var none = CancellationToken.None;
        bool savepoints = live.Count > 1;
        try
        {
            await using var connection = await _open(none).ConfigureAwait(false);
            await using var transaction = await _begin(connection, [.. live.Select(p => p.Work)], none).ConfigureAwait(false);
            int committed = 0;
            foreach (var pending in live)
            {
                if (savepoints)
                {
                    await connection.ExecuteAsync("SAVEPOINT group_write;", none).ConfigureAwait(false);
                }

                try
                {
                    pending.Result = await _run(connection, pending.Work, none).ConfigureAwait(false);
                    committed++;
                    if (savepoints)
                    {
                        await connection.ExecuteAsync("RELEASE SAVEPOINT group_write;", none).ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (savepoints)
                {
                    // This writer's refusal (a quota, an immutable tag, a missing blob) or failure: undo
                    // its statements only. Should the database have dropped the whole transaction (a
                    // full disk, an I/O error), the rollback fails and so does the batch, below.
                    pending.Error = e;
                    try
                    {
                        await connection.ExecuteAsync("ROLLBACK TO SAVEPOINT group_write;", none).ConfigureAwait(false);
                        await connection.ExecuteAsync("RELEASE SAVEPOINT group_write;", none).ConfigureAwait(false);
                    }
                    catch (DbException)
                    {
                        // The savepoint went with the whole transaction: the batch fails with the
                        // cause (a full disk stays a full disk for every writer, not "no such savepoint").
                        ExceptionDispatchInfo.Throw(e);
                    }
                }
            }

            if (committed > 0)
            {
                await transaction.CommitAsync(none).ConfigureAwait(false);
                Interlocked.Increment(ref _commits);
                Interlocked.Add(ref _writes, committed);
            }
        }
        catch (Exception e)
        {
            // Nothing of the batch was committed: every writer that has no error of its own gets this one.
            foreach (var pending in live)
            {
                pending.Error ??= e;
                pending.Completion.TrySetException(pending.Error);
            }

            return;
        }

        foreach (var pending in live)
        {
            if (pending.Error is { } error)
            {
                pending.Completion.TrySetException(error);
            }
            else
            {
                pending.Completion.TrySetResult(pending.Result!);
            }
        }
    }

    private sealed class Pending(TWork work, CancellationToken cancellationToken)
    {
        public TWork Work { get; } = work;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        public TaskCompletionSource<TResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TResult? Result { get; set; }

        public Exception? Error { get; set; }
    }
}
