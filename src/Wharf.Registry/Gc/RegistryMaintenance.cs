// Stub: replaced by the garbage-collection implementation.
namespace Wharf.Registry.Gc;

/// <summary>Offline maintenance of a data directory, for <c>wharfd gc</c> and <c>wharfd fsck</c>.</summary>
public static class RegistryMaintenance
{
    public static async Task<int> CollectGarbageAsync(string dataDirectory, bool dryRun, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        await output.WriteLineAsync("not implemented".AsMemory(), cancellationToken).ConfigureAwait(false);
        return 1;
    }

    public static async Task<int> CheckAsync(string dataDirectory, bool repair, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        await output.WriteLineAsync("not implemented".AsMemory(), cancellationToken).ConfigureAwait(false);
        return 1;
    }
}
