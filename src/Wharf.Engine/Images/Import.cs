using System.IO.Compression;
using Wharf.Engine.Images;
using Wharf.Oci;

namespace Wharf.Engine;

public sealed record ImportOptions
{
    /// <summary>A tarball (plain or gzip) holding a root filesystem.</summary>
    public required Stream Source { get; init; }

    /// <summary>The new image's name; null leaves it unnamed.</summary>
    public string? Image { get; init; }

    /// <summary>The history entry's comment (podman import -m); else "imported from tarball".</summary>
    public string? Message { get; init; }

    /// <summary><c>-c</c> changes: the Dockerfile instructions commit takes (CMD, ENV, ...).</summary>
    public IReadOnlyList<string> Changes { get; init; } = [];
}

public sealed partial class LocalImages
{
    /// <summary>
    /// podman import: the tarball becomes the single layer of a new image (stored as given, gzip or
    /// plain, after the read-back check), with a config holding the changes and podman's history entry.
    /// Returns the new image's ID.
    /// </summary>
    public async Task<string> ImportAsync(ImportOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        string id = await ImportTarballAsync(options, cancellationToken).ConfigureAwait(false);
        Events.Image("import", id, options.Image is null ? null : ImageNames.ForNewImage(options.Image));
        return id;
    }

    private async Task<string> ImportTarballAsync(ImportOptions options, CancellationToken cancellationToken)
    {
        var run = new ContainerConfig();
        foreach (string change in options.Changes)
        {
            run = CommitChanges.Apply(run, change);
        }

        string? name = options.Image is null ? null : ImageNames.ForNewImage(options.Image);
        string tmp = Path.Combine(Store.Root, "tmp");
        Directory.CreateDirectory(tmp);
        string file = Path.Combine(tmp, $"{System.Environment.ProcessId}-import-{Guid.NewGuid():N}");
        var writer = new ImageWriter(Store);
        try
        {
            var fileStream = new FileStream(file, FileMode.CreateNew, FileAccess.Write);
            await using (fileStream.ConfigureAwait(false))
            {
                await options.Source.CopyToAsync(fileStream, cancellationToken).ConfigureAwait(false);
                if (fileStream.Length == 0)
                {
                    // An empty input is an empty diff. podman records it as a zero-byte layer (the
                    // diff ID of an empty string) that registries and tar readers reject; the layer
                    // written here is what an empty diff is everywhere else: an empty tar archive,
                    // its two end-of-archive blocks.
                    await fileStream.WriteAsync(new byte[1024], cancellationToken).ConfigureAwait(false);
                }
            }

            var diffId = await DiffIdAsync(file, cancellationToken).ConfigureAwait(false);
            var (blob, _) = await writer.WriteLayerAsync(file, diffId, "imported tarball", cancellationToken).ConfigureAwait(false);
            string created = RfcTime.Format(Time.GetUtcNow());
            var config = new ImageConfig
            {
                Created = created,
                Architecture = Platform.HostArchitecture,
                Os = "linux",
                Config = run,
                RootFs = new RootFs { Type = "layers", DiffIds = [diffId.ToString()] },
                History =
                [
                    new HistoryEntry
                    {
                        Created = created,
                        CreatedBy = $"/bin/sh -c #(nop) ADD file:{diffId.Encoded} in /",
                        Comment = options.Message ?? "imported from tarball",
                    },
                ],
            };
            var image = await writer.WriteAsync(config, [blob], ImageFormat.Oci, cancellationToken).ConfigureAwait(false);
            return writer.Register(image, name, [], Time).Id;
        }
        finally
        {
            writer.Release();
            File.Delete(file);
        }
    }

    /// <summary>The sha256 of the uncompressed tar (gzip is detected from the bytes).</summary>
    private static async Task<Digest> DiffIdAsync(string file, CancellationToken cancellationToken)
    {
        var stream = File.OpenRead(file);
        await using (stream.ConfigureAwait(false))
        {
            byte[] magic = new byte[2];
            int n = await stream.ReadAtLeastAsync(magic, 2, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            stream.Position = 0;
            Stream tar = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true) : stream;
            await using (tar.ConfigureAwait(false))
            {
                using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
                byte[] buffer = new byte[1 << 16];
                int read;
                while ((read = await tar.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    sha.AppendData(buffer, 0, read);
                }

                return Digest.Parse("sha256:" + Convert.ToHexStringLower(sha.GetHashAndReset()));
            }
        }
    }
}
