using Microsoft.AspNetCore.Http;
using Wharf.Oci;
using Wharf.Registry.Api;
using Wharf.Registry.Auth;
using Wharf.Registry.Identity;
using Wharf.Registry.Management;
using Wharf.Registry.Metadata;

namespace Wharf.Registry.Projects;

/// <summary>
/// Harbor's rules for a project's repositories, artifacts and tags, for the management API and the portal:
/// reading needs pull, tagging push, deleting the delete action (maintainers, project admins, robots given
/// it); an artifact that an index lists stays until the index goes; deleting an index takes its untagged
/// children that no other index lists. Every change drops the repository's cached manifests.
/// </summary>
public sealed class ArtifactRules(AccessEvaluator access, IArtifactStore artifacts, IMetadataStore metadata, ManifestCache manifests, IArtifactEvents events)
{
    public async Task<bool> MayAsync(Caller caller, Project project, RepositoryActions needed, CancellationToken cancellationToken) =>
        (await access.EvaluateAsync(caller, project, cancellationToken).ConfigureAwait(false)).Actions.HasFlag(needed);

    /// <summary>Anonymous callers are asked to sign in (401), others refused (403).</summary>
    public async Task RequireAsync(Caller caller, Project project, RepositoryActions needed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(project);
        if (!await MayAsync(caller, project, needed, cancellationToken).ConfigureAwait(false))
        {
            throw caller.IsAnonymous ? ApiException.Unauthorized() : ApiException.Forbidden($"{caller.Name} may not {string.Join(",", needed.Names())} in {project.Name}");
        }
    }

    /// <summary>
    /// Deletes the repository; each of its artifacts is told to <see cref="IArtifactEvents"/> as deleted,
    /// as Harbor deletes a repository artifact by artifact. <paramref name="host"/> is the address the caller used.
    /// </summary>
    public async Task DeleteRepositoryAsync(Caller caller, Project project, RepositoryName repository, string host, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        await RequireAsync(caller, project, RepositoryActions.Delete, cancellationToken).ConfigureAwait(false);
        var going = await AllArtifactsAsync(repository, cancellationToken).ConfigureAwait(false);
        manifests.Invalidate(repository.Value);
        bool deleted;
        try
        {
            deleted = await artifacts.DeleteRepositoryAsync(repository, cancellationToken).ConfigureAwait(false);
        }
        catch (Policies.ImmutableTagException e)
        {
            throw Immutable(e);
        }
        finally
        {
            manifests.Invalidate(repository.Value);
        }

        if (!deleted)
        {
            throw ApiException.NotFound($"repository {repository} not found");
        }

        foreach (var artifact in going)
        {
            events.ArtifactDeleted(new ArtifactDeletion(repository, artifact.Digest, [.. artifact.Tags.Select(t => t.Name)], caller.Name, host));
        }
    }

    /// <summary>Every artifact of the repository (an index's children are not artifacts of their own).</summary>
    private async Task<List<ArtifactInfo>> AllArtifactsAsync(RepositoryName repository, CancellationToken cancellationToken)
    {
        const int PageSize = 1000;
        var all = new List<ArtifactInfo>();
        for (int page = 1; ; page++)
        {
            var (list, total) = await artifacts.ListArtifactsAsync(repository, page, PageSize, cancellationToken).ConfigureAwait(false);
            all.AddRange(list);
            if (list.Count < PageSize || all.Count >= total)
            {
                return all;
            }
        }
    }

    /// <summary>Deletes the artifact (and an index's orphaned children); one an index still lists is refused with Harbor's 412.</summary>
    public async Task DeleteArtifactAsync(Caller caller, Project project, RepositoryName repository, ArtifactInfo artifact, string host, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(artifact);
        await RequireAsync(caller, project, RepositoryActions.Delete, cancellationToken).ConfigureAwait(false);
        try
        {
            await DeleteArtifactUncheckedAsync(repository, artifact, caller.Name, host, cancellationToken).ConfigureAwait(false);
        }
        catch (ManifestReferencedException e)
        {
            // Harbor's answer, word for word, so its clients recognise it; the indexes follow.
            throw new ApiException(StatusCodes.Status412PreconditionFailed, "VIOLATE_FOREIGN_KEY_CONSTRAINT",
                $"the deleting artifact is referenced by others: {string.Join(", ", e.Parents)}");
        }
        catch (Policies.ImmutableTagException e)
        {
            throw Immutable(e);
        }
    }

    /// <summary>
    /// The delete itself, for the registry's own jobs (tag retention) that act for the project rather
    /// than a caller: the same store calls and cache drops as <see cref="DeleteArtifactAsync"/>, with the
    /// store's refusals (<see cref="ManifestReferencedException"/>, <see cref="Policies.ImmutableTagException"/>) left to the job.
    /// The deletion is told to <see cref="IArtifactEvents"/> with <paramref name="operatorName"/> (the
    /// index's children that go with it are not: Harbor reports the artifact that was asked for).
    /// </summary>
    public async Task DeleteArtifactUncheckedAsync(RepositoryName repository, ArtifactInfo artifact, string operatorName, string host, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(artifact);
        manifests.Invalidate(repository.Value);
        try
        {
            if (await metadata.DeleteManifestAsync(repository, artifact.Digest, cancellationToken).ConfigureAwait(false))
            {
                events.ArtifactDeleted(new ArtifactDeletion(repository, artifact.Digest, [.. artifact.Tags.Select(t => t.Name)], operatorName, host));
            }

            await DeleteOrphanedChildrenAsync(repository, artifact, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            manifests.Invalidate(repository.Value);
        }
    }

    /// <summary>Removes the tag; the artifact stays.</summary>
    public async Task DeleteTagAsync(Caller caller, Project project, RepositoryName repository, string tag, CancellationToken cancellationToken)
    {
        await RequireAsync(caller, project, RepositoryActions.Delete, cancellationToken).ConfigureAwait(false);
        if (!Tag.TryParse(tag, out var validTag) || await artifacts.GetArtifactAsync(repository, validTag, cancellationToken).ConfigureAwait(false) is null)
        {
            throw ApiException.NotFound($"tag {tag} not found in {repository}");
        }

        manifests.Invalidate(repository.Value);
        try
        {
            await metadata.DeleteTagAsync(repository, tag, cancellationToken).ConfigureAwait(false);
        }
        catch (Policies.ImmutableTagException e)
        {
            throw Immutable(e);
        }
        finally
        {
            manifests.Invalidate(repository.Value);
        }

        events.TagChanged(repository, tag);
    }

    /// <summary>Harbor refuses deleting an immutable tag, or an artifact or repository holding one, with 412 PRECONDITION.</summary>
    private static ApiException Immutable(Policies.ImmutableTagException e) => ApiException.Precondition(e.Message);

    public async Task AddTagAsync(Caller caller, Project project, RepositoryName repository, Digest digest, string? tag, CancellationToken cancellationToken)
    {
        await RequireAsync(caller, project, RepositoryActions.Push, cancellationToken).ConfigureAwait(false);
        if (!Tag.IsValid(tag))
        {
            throw ApiException.BadRequest("tag name must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");
        }

        var result = await artifacts.AddTagAsync(repository, digest, tag!, cancellationToken).ConfigureAwait(false);
        manifests.Invalidate(repository.Value);
        switch (result)
        {
            case TagCreateResult.AlreadyExists:
                throw ApiException.Conflict($"tag {tag} already exists in {repository}");
            case TagCreateResult.ArtifactMissing:
                throw ApiException.NotFound($"artifact {digest} not found in {repository}");
        }

        events.TagChanged(repository, tag!);
    }

    /// <summary>The platforms of an index's manifests, in its order (empty for anything else).</summary>
    public async Task<IReadOnlyList<(Digest Digest, Platform? Platform)>> PlatformsAsync(RepositoryName repository, ArtifactInfo artifact, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(artifact);
        if (artifact.References.Count == 0 || await metadata.GetManifestAsync(repository, artifact.Digest, cancellationToken).ConfigureAwait(false) is not { } stored)
        {
            return [];
        }

        ParsedManifest parsed;
        try
        {
            parsed = ManifestParser.Parse(stored.Content, stored.MediaType);
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or OciException)
        {
            return [];
        }

        return [.. parsed.Manifests.Select(m => (m.Digest, m.Platform))];
    }

    /// <summary>Artifacts whose subject is this one (signatures, SBOMs), as the referrers API lists them.</summary>
    public Task<IReadOnlyList<Referrer>> ReferrersAsync(RepositoryName repository, ArtifactInfo artifact, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(artifact);
        return metadata.ListReferrersAsync(repository, artifact.Digest, null, cancellationToken);
    }

    /// <summary>
    /// Harbor deletes an index together with its children, except a child that has a tag or that
    /// another index still lists; those stay (and are then shown as artifacts of their own).
    /// </summary>
    private async Task DeleteOrphanedChildrenAsync(RepositoryName repository, ArtifactInfo parent, CancellationToken cancellationToken)
    {
        var pending = new Stack<Digest>(parent.References);
        var seen = new HashSet<Digest>();
        while (pending.TryPop(out var digest))
        {
            if (!seen.Add(digest)
                || await artifacts.GetArtifactAsync(repository, digest, cancellationToken).ConfigureAwait(false) is not { Tags.Count: 0 } child)
            {
                continue;
            }

            try
            {
                await metadata.DeleteManifestAsync(repository, digest, cancellationToken).ConfigureAwait(false);
            }
            catch (ManifestReferencedException)
            {
                continue; // another index lists it: it stays
            }

            foreach (var grandchild in child.References)
            {
                pending.Push(grandchild);
            }
        }
    }
}
