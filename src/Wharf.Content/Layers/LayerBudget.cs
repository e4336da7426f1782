namespace Wharf.Content.Layers;

/// <summary>
/// The bytes unpacking may still write: what is left of the store quota or the filesystem. A
/// compressed layer says nothing reliable about its inflated size (a 2 MB gzip of zeros inflates
/// to gigabytes), so the count is taken while writing and unpacking stops the moment it would go
/// over. One budget can be shared by layers unpacking side by side: together they stay within it.
/// </summary>
public sealed class LayerBudget(long bytes)
{
    private long _remaining = Math.Max(0, bytes);

    /// <summary>The bytes the budget started with.</summary>
    public long Limit { get; } = Math.Max(0, bytes);

    public long Remaining => Math.Max(0, Interlocked.Read(ref _remaining));

    /// <summary>Takes <paramref name="bytes"/> before they are written; throws when that would overdraw.</summary>
    internal void Take(long bytes)
    {
        if (Interlocked.Add(ref _remaining, -bytes) < 0)
        {
            throw new LayerBudgetException(Limit);
        }
    }
}

/// <summary>Unpacking stopped because the layer inflates past its <see cref="LayerBudget"/>.</summary>
public sealed class LayerBudgetException : LayerException
{
    public LayerBudgetException()
    {
    }

    public LayerBudgetException(string message)
        : base(message)
    {
    }

    public LayerBudgetException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public LayerBudgetException(long limit)
        : base($"the layer inflates to more than the {limit} bytes unpacking may write")
    {
        Limit = limit;
    }

    public long Limit { get; }
}
