using Wharf.Content;
using Wharf.Oci;

namespace Wharf.Engine;

/// <summary>
/// Live per-blob progress of a pull or push. When the command line gives one (a terminal), the
/// engine reports to it instead of printing podman's plain <c>Copying blob …</c> lines.
/// </summary>
public interface ITransferProgress
{
    /// <summary>A blob starts: <paramref name="label"/> is podman's "Copying blob" or "Copying config".</summary>
    void Begin(string label, Descriptor blob);

    void Advance(Descriptor blob, long bytes);

    /// <summary>Done: <paramref name="outcome"/> is "done", "skipped: already exists" or "mounted".</summary>
    void End(Descriptor blob, string outcome);

    /// <summary>All blobs are through; the display is finished before the next plain line.</summary>
    void Complete();
}

internal static class TransferProgressExtensions
{
    /// <summary>Copy options that send the copy engine's events to <paramref name="progress"/>, or print plain lines.</summary>
    public static (Action<CopyEvent> Events, Action<Descriptor, long>? Bytes) Route(this ITransferProgress? progress, Action<string> plain)
    {
        var gate = new Lock();
        if (progress is null)
        {
            return (e =>
            {
                if (e.Kind == CopyEventKind.Copying)
                {
                    lock (gate)
                    {
                        plain($"Copying {(e.IsConfig ? "config" : "blob")} {e.Descriptor.Digest}");
                    }
                }
            }, null);
        }

        return (e =>
        {
            lock (gate)
            {
                switch (e.Kind)
                {
                    case CopyEventKind.Copying:
                        progress.Begin(e.IsConfig ? "Copying config" : "Copying blob", e.Descriptor);
                        break;
                    case CopyEventKind.Skipped:
                        progress.End(e.Descriptor, "skipped: already exists");
                        break;
                    case CopyEventKind.Mounted:
                        progress.End(e.Descriptor, "skipped: already exists");
                        break;
                    case CopyEventKind.Copied:
                        progress.End(e.Descriptor, "done");
                        break;
                }
            }
        }, (d, n) =>
        {
            lock (gate)
            {
                progress.Advance(d, n);
            }
        });
    }
}
