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

        var dockerfile = Dockerfile.Parse(options.FileText ?? await File.ReadAllTextAsync(FindFile(options, context), cancellationToken).ConfigureAwait(false));
        var stages = dockerfile.Stages().ToList();
        int last = stages.Count - 1;
        if (options.Target is { } target)
        {
            last = stages.FirstOrDefault(s => s.Name == target.ToLowerInvariant())?.Index
                ?? throw new WharfException($"building target \"{target}\": no stage named \"{target}\" in the Dockerfile");
        }

        if (options.Labels.Count > 0)
        {
            // podman turns each --label into a LABEL step after the target stage's own instructions.
            var stage = stages[last];
            var labels = options.Labels.Select(l => Dockerfile.Parse($"FROM scratch\nLABEL {Quote(l.Key)}={Quote(l.Value)}\n").Instructions[1] with { Line = stage.From.Line });
            stages[last] = stage with { Instructions = [.. stage.Instructions, .. labels] };
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

    private static string FindFile(BuildOptions options, string context)
    {
        string file = options.File is { } f
            ? (Path.IsPathRooted(f) || File.Exists(f) ? Path.GetFullPath(f) : Path.Combine(context, f))
            : new[] { "Containerfile", "Dockerfile" }.Select(n => Path.Combine(context, n)).FirstOrDefault(File.Exists)
                ?? throw new WharfException($"no Containerfile or Dockerfile specified or found in context directory, {context}: no such file or directory");
        return File.Exists(file) ? file : throw new WharfException($"the specified Containerfile or Dockerfile does not exist, {options.File}: no such file or directory");
    }

    /// <summary>A LABEL word in double quotes, as podman writes the step (<c>LABEL "K"="V"</c>).</summary>
    private static string Quote(string text) => "\"" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}

/// <param name="ImageId">The built image's ID, what podman prints last.</param>
/// <param name="Names">The names it was tagged with.</param>
public sealed record BuildReport(string ImageId, IReadOnlyList<string> Names);
