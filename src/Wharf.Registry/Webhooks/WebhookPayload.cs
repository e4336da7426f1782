using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Oci;

namespace Wharf.Registry.Webhooks;

/// <summary>
/// Something that happened in a project, as the webhook payloads describe it. Host is the registry's
/// address as the client used it (for resource_url); Details is a quota event's message;
/// Replication is the REPLICATION event's own data.
/// </summary>
public sealed record WebhookEvent(
    string Type, string Project, RepositoryName? Repository, string? Tag, Digest? Digest, string Operator, DateTimeOffset OccurAt, string Host,
    string? Details = null, JsonObject? Replication = null);

/// <summary>
/// The bytes posted for an event: Harbor's Default payload (<c>type</c>, <c>occur_at</c>,
/// <c>operator</c>, <c>event_data</c> with <c>resources</c> and <c>repository</c>), or the same
/// event_data as the <c>data</c> of a structured-mode CloudEvent.
/// </summary>
public static class WebhookPayload
{
    public const string JsonContentType = "application/json";
    public const string CloudEventsContentType = "application/cloudevents+json";

    public static (string ContentType, byte[] Body) Build(WebhookEvent e, string format, bool projectPublic, long policyId, long projectId)
    {
        ArgumentNullException.ThrowIfNull(e);
        var data = EventData(e, projectPublic);
        if (format == WebhookPayloadFormats.CloudEvents)
        {
            var cloudEvent = new JsonObject
            {
                ["specversion"] = "1.0",
                ["id"] = Guid.NewGuid().ToString(),
                ["source"] = $"/projects/{projectId}/webhook/policies/{policyId}",
                ["type"] = CloudEventType(e.Type),
                ["datacontenttype"] = JsonContentType,
                ["time"] = e.OccurAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                ["operator"] = e.Operator,
                ["data"] = data,
            };
            return (CloudEventsContentType, JsonSerializer.SerializeToUtf8Bytes(cloudEvent));
        }

        var payload = new JsonObject
        {
            ["type"] = e.Type,
            ["occur_at"] = e.OccurAt.ToUnixTimeSeconds(),
            ["operator"] = e.Operator,
            ["event_data"] = data,
        };
        return (JsonContentType, JsonSerializer.SerializeToUtf8Bytes(payload));
    }

    private static JsonObject EventData(WebhookEvent e, bool projectPublic)
    {
        var data = new JsonObject();
        if (e.Replication is not null)
        {
            data["replication"] = e.Replication.DeepClone();
            return data;
        }

        if (e.Repository is { } repository)
        {
            var resource = new JsonObject();
            if (e.Digest is { } digest)
            {
                resource["digest"] = digest.ToString();
            }

            if (e.Tag is not null)
            {
                resource["tag"] = e.Tag;
            }

            // A scheduled job has no address the caller used: the URL is then the repository's path alone.
            string prefix = e.Host.Length > 0 ? e.Host + "/" : "";
            resource["resource_url"] = e.Tag is not null ? $"{prefix}{repository}:{e.Tag}"
                : e.Digest is { } d ? $"{prefix}{repository}@{d}" : $"{prefix}{repository}";
            data["resources"] = new JsonArray(resource);
            string name = repository.Value.Length > e.Project.Length ? repository.Value[(e.Project.Length + 1)..] : repository.Value;
            data["repository"] = new JsonObject
            {
                ["name"] = name,
                ["namespace"] = e.Project,
                ["repo_full_name"] = repository.Value,
                ["repo_type"] = projectPublic ? "public" : "private",
            };
        }

        if (e.Details is not null)
        {
            data["custom_attributes"] = new JsonObject { ["Details"] = e.Details };
        }

        return data;
    }

    private static string CloudEventType(string type) => type switch
    {
        WebhookEventTypes.PushArtifact => "harbor.artifact.pushed",
        WebhookEventTypes.PullArtifact => "harbor.artifact.pulled",
        WebhookEventTypes.DeleteArtifact => "harbor.artifact.deleted",
        WebhookEventTypes.QuotaExceed => "harbor.quota.exceeded",
        WebhookEventTypes.QuotaWarning => "harbor.quota.warning",
        WebhookEventTypes.Replication => "harbor.replication.status.changed",
        _ => "harbor." + type.ToLowerInvariant(),
    };
}
