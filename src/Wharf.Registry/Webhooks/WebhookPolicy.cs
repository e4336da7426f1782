namespace Wharf.Registry.Webhooks;

/// <summary>Harbor's webhook event types. The scan events are accepted in a policy but never fired: wharfd does not scan.</summary>
public static class WebhookEventTypes
{
    public const string PushArtifact = "PUSH_ARTIFACT";
    public const string PullArtifact = "PULL_ARTIFACT";
    public const string DeleteArtifact = "DELETE_ARTIFACT";
    public const string QuotaExceed = "QUOTA_EXCEED";
    public const string QuotaWarning = "QUOTA_WARNING";
    public const string Replication = "REPLICATION";
    public const string ScanningCompleted = "SCANNING_COMPLETED";
    public const string ScanningFailed = "SCANNING_FAILED";
    public const string ScanningStopped = "SCANNING_STOPPED";

    /// <summary>What <c>GET …/webhook/events</c> lists, in Harbor's order.</summary>
    public static readonly IReadOnlyList<string> All =
    [
        DeleteArtifact, PullArtifact, PushArtifact, QuotaExceed, QuotaWarning, Replication, ScanningFailed, ScanningStopped, ScanningCompleted,
    ];

    public static bool IsSupported(string? type) => type is not null && All.Contains(type);
}

/// <summary>Harbor's payload formats for an http target.</summary>
public static class WebhookPayloadFormats
{
    public const string Default = "Default";
    public const string CloudEvents = "CloudEvents";
}

/// <summary>Harbor's task states, as its execution API spells them.</summary>
public static class WebhookStatus
{
    public const string Pending = "Pending";
    public const string Running = "Running";
    public const string Success = "Success";
    public const string Error = "Error";
    public const string Stopped = "Stopped";
}

/// <summary>Where a policy posts: Harbor's WebhookTargetObject (type http only; Slack is refused).</summary>
public sealed record WebhookTarget(string Type, string Address, string? AuthHeader, bool SkipCertVerify, string PayloadFormat);

/// <summary>A project's webhook policy: which events go to which targets.</summary>
public sealed record WebhookPolicy(
    long Id, long ProjectId, string Name, string? Description, IReadOnlyList<WebhookTarget> Targets, IReadOnlyList<string> EventTypes,
    bool Enabled, string Creator, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public bool Wants(string eventType) => Enabled && EventTypes.Contains(eventType);
}

/// <summary>One event for one policy (Harbor's execution); its state comes from its tasks.</summary>
public sealed record WebhookExecution(
    long Id, long PolicyId, string EventType, string Status, DateTimeOffset StartTime, DateTimeOffset? EndTime,
    int Total, int Succeeded, int Failed, int InProgress);

/// <summary>One delivery of an event to one target (Harbor's task).</summary>
public sealed record WebhookTask(
    long Id, long ExecutionId, string Address, string Status, string? StatusMessage, int RunCount,
    DateTimeOffset CreatedAt, DateTimeOffset? StartTime, DateTimeOffset UpdatedAt, DateTimeOffset? EndTime);

/// <summary>What the sender needs of a task: where, how and the exact bytes.</summary>
public sealed record WebhookDelivery(
    long TaskId, string Address, string? AuthHeader, bool SkipCertVerify, string ContentType, byte[] Payload, int RunCount);
