namespace Wharf.Registry.Webhooks;

/// <summary>Settings under <c>Webhooks</c>.</summary>
public sealed class WebhookOptions
{
    /// <summary>Events waiting to be matched to policies; beyond this they are dropped, logged and counted.</summary>
    public int QueueLength { get; set; } = 10_000;

    /// <summary>Deliveries being sent at once: a slow receiver holds one of these, never a request.</summary>
    public int MaxConcurrentDeliveries { get; set; } = 4;

    /// <summary>Attempts per delivery, the first included.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Wait before the first retry; each further retry waits twice as long, up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>One attempt's limit, connection and answer included.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Executions kept per policy in the delivery log; older finished ones are pruned.</summary>
    public int KeepExecutions { get; set; } = 1000;

    /// <summary>
    /// Networks (CIDR) webhook targets may be reached at; empty (the default): anywhere. Lets admins keep
    /// project admins from posting to internal addresses (<see cref="WebhookTargetNetworks"/>).
    /// </summary>
    public IList<string> AllowedNetworks { get; } = [];

    /// <summary>QUOTA_WARNING fires after a push that leaves the project at or above this share of its limit.</summary>
    public int QuotaWarningPercent { get; set; } = 85;
}
