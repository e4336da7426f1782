using Wharf.Engine.Containers;
using Wharf.Engine.Images;

namespace Wharf.Engine.Build;

/// <summary>
/// podman build: finds and parses the Dockerfile, then hands it to a <see cref="BuildSession"/>
/// that runs its stages. Takes <see cref="BuildOptions"/>, returns a <see cref="BuildReport"/>;
/// step lines and warnings go to <see cref="BuildOptions.Progress"/>.
/// </summary>
public sealed class Builder(ContainerEngine containers)
{
    private readonly ContainerEngine _containers = containers ?? throw new ArgumentNullException(nameof(containers));

    public async Task<BuildReport> BuildAsync(BuildOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var format = ImageFormats.Parse(options.Format);
        string context = Path.GetFullPath(options.Context);
        if (!Directory.Exists(context))
        {
            throw new WharfException($"no such file or directory: {options.Context}");
        }

        string file = options.File is { } f
            ? (Path.IsPathRooted(f) || File.Exists(f) ? Path.GetFullPath(f) : Path.Combine(context, f))
            : new[] { "Containerfile", "Dockerfile" }.Select(n => Path.Combine(context, n)).FirstOrDefault(File.Exists)
                ?? throw new WharfException($"no Containerfile or Dockerfile specified or found in context directory, {context}: no such file or directory");
        if (!File.Exists(file))
        {
            throw new WharfException($"the specified Containerfile or Dockerfile does not exist, {options.File}: no such file or directory");
        }

        var dockerfile = Dockerfile.Parse(await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false));
        var stages = dockerfile.Stages();
        int last = stages.Count - 1;
        if (options.Target is { } target)
        {
            last = stages.FirstOrDefault(s => s.Name == target.ToLowerInvariant())?.Index
                ?? throw new WharfException($"building target \"{target}\": no stage named \"{target}\" in the Dockerfile");
        }

        string work = Directory.CreateTempSubdirectory("wharf-build-").FullName;
        try
        {
            var session = new BuildSession(_containers, options, format, dockerfile, stages, context, work);
            var report = await session.RunAsync(last, cancellationToken).ConfigureAwait(false);
            _containers.Images.Events.Image("build", report.ImageId, report.Names.FirstOrDefault());
            return report;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}

/// <param name="ImageId">The built image's ID, what podman prints last.</param>
/// <param name="Names">The names it was tagged with.</param>
public sealed record BuildReport(string ImageId, IReadOnlyList<string> Names);
