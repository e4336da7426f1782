using Wharf.Client;
using Wharf.Content;
using Wharf.Oci;

namespace Wharf.Engine;

public sealed record ResolveImageOptions : RegistryAccess
{
    public required string Reference { get; init; }
}

/// <summary>
/// What a reference names right now, pinned: <see cref="Pinned"/> is <c>REPOSITORY@DIGEST</c> (or,
/// for an image that exists only in the local store under localhost, its image ID), which later
/// pulls and runs find unchanged even after the tag moves.
/// </summary>
public sealed record ResolveImageReport(string Pinned, string Digest, bool Local);

public sealed partial class RegistryImages
{
    /// <summary>
    /// Resolves a reference as <c>run</c> would find it (local image first, else the registry: alias,
    /// search registries, mirrors) without pulling it. A name that exists nowhere is an error
    /// carrying the registry's reason.
    /// </summary>
    public async Task<ResolveImageReport> ResolveImageAsync(ResolveImageOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (ImageNames.Lookup(Store.ReadImages(), options.Reference, Registries.UnqualifiedSearchRegistries) is { } local)
        {
            string? repository = local.Names
                .Select(n => ImageNames.Split(n).Repository)
                .FirstOrDefault(r => !r.StartsWith("localhost/", StringComparison.Ordinal));
            return new ResolveImageReport(repository is null ? local.Id : $"{repository}@{local.Digest}", local.Digest, Local: true);
        }

        var errors = new List<string>();
        foreach (var candidate in ResolvePullCandidates(options.Reference, quiet: true))
        {
            string name = ImageNames.Qualified(candidate);
            if (Registries.IsBlocked(candidate.Name))
            {
                errors.Add($"initializing source docker://{name}: registry {candidate.Domain} is blocked in {Registries.SourcesDescription}");
                continue;
            }

            string tagOrDigest = candidate.Digest?.ToString() ?? candidate.Tag ?? "latest";
            Exception? lastError = null;
            foreach (var (source, insecure) in PullSources(candidate))
            {
                using var client = CreateClient(source.Domain!, source.Name, options, insecure);
                try
                {
                    var root = await client.Repository(source.Path).ResolveAsync(tagOrDigest, cancellationToken).ConfigureAwait(false);
                    return new ResolveImageReport($"{candidate.Name}@{root.Digest}", root.Digest.ToString(), Local: false);
                }
                catch (Exception e) when (e is RegistryException or ContentException or HttpRequestException)
                {
                    lastError = e;
                }
            }

            errors.Add($"initializing source docker://{name}: {lastError?.Message ?? "no source to pull from"}");
        }

        throw new WharfException(errors.Count == 1 ? errors[0] : $"{errors.Count} errors occurred while resolving:\n" + string.Join('\n', errors.Select(e => " * " + e)));
    }
}
