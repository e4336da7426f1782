using System.Text.Json.Nodes;
using Wharf.Registry.Replication;

namespace Wharf.Registry.Webhooks;

/// <summary>
/// A finished replication execution as Harbor's REPLICATION event, for each project of this registry
/// that the execution copied from (a push policy) or into (a pull policy).
/// </summary>
public sealed class WebhookReplicationListener(WebhookQueue queue, TimeProvider time) : IReplicationListener
{
    public void ExecutionFinished(ReplicationPolicy policy, ReplicationExecution execution, IReadOnlyList<ReplicationTask> tasks)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(execution);
        ArgumentNullException.ThrowIfNull(tasks);
        var projects = tasks.Select(t => ProjectOf(policy.IsPush ? t.SourceResource : t.DestinationResource)).Where(p => p.Length > 0).Distinct(StringComparer.Ordinal);
        foreach (string project in projects)
        {
            var mine = tasks.Where(t => ProjectOf(policy.IsPush ? t.SourceResource : t.DestinationResource) == project).ToList();
            var data = new JsonObject
            {
                ["harbor_hostname"] = "",
                ["job_status"] = execution.Status,
                ["execution_id"] = execution.Id,
                ["policy_name"] = policy.Name,
                ["trigger_type"] = execution.Trigger,
                ["override_mode"] = policy.Override,
                ["execute_start_time"] = execution.StartTime.ToUnixTimeSeconds(),
                ["src_resource"] = new JsonObject { ["registry_type"] = policy.IsPush ? "wharf" : "remote", ["registry_id"] = policy.SourceRegistryId },
                ["dest_resource"] = new JsonObject
                {
                    ["registry_type"] = policy.IsPush ? "remote" : "wharf", ["registry_id"] = policy.DestinationRegistryId, ["namespace"] = policy.DestinationNamespace,
                },
                ["successful_artifact"] = Artifacts(mine.Where(t => t.Status == ReplicationStatus.Succeed)),
                ["failed_artifact"] = Artifacts(mine.Where(t => t.Status != ReplicationStatus.Succeed)),
            };
            queue.Offer(new WebhookEvent(WebhookEventTypes.Replication, project, null, null, null, "replication", time.GetUtcNow(), "", Replication: data));
        }
    }

    private static JsonArray Artifacts(IEnumerable<ReplicationTask> tasks)
    {
        var list = new JsonArray();
        foreach (var t in tasks)
        {
            list.Add((JsonNode)new JsonObject
            {
                ["type"] = "image", ["status"] = t.Status, ["operation"] = t.Operation, ["src_resource"] = t.SourceResource, ["dest_resource"] = t.DestinationResource,
            });
        }

        return list;
    }

    /// <summary>The project of "project/repo:tag".</summary>
    private static string ProjectOf(string resource)
    {
        int slash = resource.IndexOf('/', StringComparison.Ordinal);
        return slash <= 0 ? "" : resource[..slash];
    }
}
