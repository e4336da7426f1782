namespace Wharf.Registry.Replication;

/// <summary>Settings under <c>Registry:Replication</c>.</summary>
public sealed class ReplicationOptions
{
    /// <summary>Tasks (artifacts) copied at once, over all running executions.</summary>
    public int MaxConcurrentTasks { get; set; } = 4;

    /// <summary>Blobs of one artifact transferred at once.</summary>
    public int BlobConcurrency { get; set; } = 4;

    /// <summary>How often scheduled policies are checked against their cron.</summary>
    public TimeSpan SchedulePollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Push and delete events waiting for event-based policies; beyond this they are dropped and logged.</summary>
    public int EventQueueLength { get; set; } = 10_000;
}
