using Wharf.Engine.Images;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine.Containers;

public sealed record CommitOptions
{
    public required string Container { get; init; }

    /// <summary>The new image's name; null leaves it unnamed.</summary>
    public string? Image { get; init; }

    public string? Message { get; init; }

    public string? Author { get; init; }

    public IReadOnlyList<string> Changes { get; init; } = [];

    /// <summary>oci (default) or docker.</summary>
    public string Format { get; init; } = "oci";

    /// <summary>Where progress and warnings go; the command line renders them.</summary>
    public IProgressSink Progress { get; init; } = SilentProgress.Instance;
}

/// <param name="ImageId">The new image's ID (the config digest's hex), what podman prints.</param>
/// <param name="Name">The name it was given, if any.</param>
/// <param name="ManifestDigest">The new manifest's digest.</param>
public sealed record CommitReport(string ImageId, string? Name, string ManifestDigest);

public sealed partial class ContainerFiles
{
    /// <summary>podman container diff: A/C/D lines, sorted by path.</summary>
    public IReadOnlyList<ContainerChange> Diff(string nameOrId) => Diff(nameOrId, forCommit: false);

    /// <summary>The changes; <paramref name="forCommit"/>: as podman commit records them (see <see cref="ContainerChanges.Compute"/>).</summary>
    public IReadOnlyList<ContainerChange> Diff(string nameOrId, bool forCommit)
    {
        var c = Lookup(nameOrId);
        if (c.RootfsDriver == "copy")
        {
            throw new WharfException($"container {c.Name} has a copied root filesystem (no overlay): its changes cannot be listed");
        }

        return ContainerChanges.Compute(Store.Upper(c.Id), c.LowerDirs, c.ManagedMounts, c.Mounts.Select(m => m.Destination), forCommit);
    }

    /// <summary>
    /// podman commit: the container's changes become one gzip layer on top of its image's layers,
    /// with a config carrying the container's settings, the -c changes and a history entry.
    /// </summary>
    public async Task<CommitReport> CommitAsync(CommitOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var format = ImageFormats.Parse(options.Format);
        var progress = options.Progress;
        var c = Lookup(options.Container);
        var source = Images.Store.ReadImages().FirstOrDefault(i => i.Id == c.ImageId)
            ?? throw new WharfException($"the image of container {c.Name} ({c.ImageId[..12]}) is no longer in the local store");
        string? name = options.Image is null ? null : ImageNames.ForNewImage(options.Image);
        if (format == ImageFormat.Oci && options.Message is not null)
        {
            progress.Warning($"COMMENT is not supported for OCI image format, comment {options.Message} will be ignored. Must use `docker` format");
        }

        var writer = new ImageWriter(Images.Store);
        var sourceManifest = ManifestParser.Parse(Images.Store.ReadBlob(source.Digest), source.ManifestMediaType);
        var baseConfig = ImageWriter.ParseConfig(Images.Store.ReadBlob(sourceManifest.Config!.Digest));
        var changes = Diff(c.Id, forCommit: true);

        string work = Path.Combine(Store.Dir(c.Id), "commit-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            var layer = await Layer.FromChangesAsync(changes, Path.Combine(work, "layer.tar.gz"), format, cancellationToken).ConfigureAwait(false);
            progress.Step("Getting image source signatures");
            foreach (string d in baseConfig.RootFs.DiffIds)
            {
                progress.Step($"Copying blob {d}");
            }

            progress.Step($"Copying blob {layer.DiffId}");
            var layerDescriptor = await writer.WriteLayerAsync(layer, cancellationToken).ConfigureAwait(false);

            var config = NewConfig(baseConfig, c, options, format, source, Images.Time.GetUtcNow()).WithLayer(layer.DiffId);
            var configDescriptor = await writer.WriteConfigAsync(config, format, cancellationToken).ConfigureAwait(false);
            progress.Step($"Copying config {configDescriptor.Digest}");
            var image = await writer.WriteManifestAsync(configDescriptor, [.. sourceManifest.Layers, layerDescriptor], format, config.CreatedTime, cancellationToken).ConfigureAwait(false);
            progress.Step("Writing manifest to image destination");
            var record = writer.Register(image, name, source.Locations, Images.Time);
            progress.Step("Storing signatures");
            Event("commit", c);
            return new CommitReport(record.Id, name, image.Manifest.Digest.ToString());
        }
        finally
        {
            // A commit that failed before its image was recorded leaves no in-flight marks behind.
            writer.Release();
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>The base image's config with the container's settings, the -c changes and a history entry.</summary>
    private static ImageConfig NewConfig(ImageConfig baseConfig, ContainerRecord c, CommitOptions options, ImageFormat format, ImageRecord source, DateTimeOffset now)
    {
        string created = RfcTime.Format(now);
        var s = c.Settings;
        var run = (baseConfig.Config ?? new ContainerConfig()) with
        {
            Env = [.. s.Env],
            Cmd = s.Cmd,
            Entrypoint = s.Entrypoint,
            WorkingDir = s.WorkingDir,
        };
        if (s.User.Length > 0)
        {
            run = run with { User = s.User };
        }

        foreach (string change in options.Changes)
        {
            run = CommitChanges.Apply(run, change);
        }

        return (baseConfig with
        {
            Created = created,
            Author = options.Author ?? baseConfig.Author,
            Comment = format == ImageFormat.Docker && options.Message is not null ? options.Message : baseConfig.Comment,
            Config = run,
        }).WithHistory(new HistoryEntry
        {
            Created = created,
            CreatedBy = "/bin/sh",
            Author = options.Author,
            Comment = "FROM " + (source.Names.FirstOrDefault() ?? source.Id),
        });
    }
}
