using Wharf.Oci;

namespace Wharf.Registry.Gc;

/// <summary>
/// Striped locks by digest. An upload's commit (rename into place + record) and GC's removal
/// (drop record + delete file) of the same digest take the same stripe, so GC never deletes a
/// file that a concurrent push has just found in place and recorded.
/// </summary>
public sealed class BlobLocks
{
    private readonly SemaphoreSlim[] _stripes = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    public async Task<IDisposable> AcquireAsync(Digest digest, CancellationToken cancellationToken)
    {
        var stripe = _stripes[(int)(Convert.ToUInt32(digest.Encoded[..8], 16) % (uint)_stripes.Length)];
        await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Releaser(stripe);
    }

    private sealed class Releaser(SemaphoreSlim stripe) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                stripe.Release();
            }
        }
    }
}
