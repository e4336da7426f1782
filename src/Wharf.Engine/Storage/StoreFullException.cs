namespace Wharf.Engine.Storage;

/// <summary>A pull that would take the store past its quota or the filesystem past full.</summary>
public sealed class StoreFullException : WharfException
{
    public StoreFullException()
    {
    }

    public StoreFullException(string message)
        : base(message)
    {
    }

    public StoreFullException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public StoreFullException(long needed, long used, long? quota, long free)
        : base(Describe(needed, used, quota, free))
    {
        Needed = needed;
        Used = used;
        Quota = quota;
        Free = free;
    }

    public long Needed { get; }

    public long Used { get; }

    public long? Quota { get; }

    /// <summary>Free bytes on the filesystem holding graphroot.</summary>
    public long Free { get; }

    private static string Describe(long needed, long used, long? quota, long free)
    {
        string n = ByteSize.Format(needed);
        if (quota is { } q && used + needed > q)
        {
            return $"needs {n}, {ByteSize.Format(Math.Max(0, q - used))} free of quota {ByteSize.Format(q)} (used {ByteSize.Format(used)})";
        }

        return $"needs {n}, {ByteSize.Format(free)} free on the filesystem (store uses {ByteSize.Format(used)}{(quota is { } q2 ? $" of quota {ByteSize.Format(q2)}" : string.Empty)})";
    }
}
