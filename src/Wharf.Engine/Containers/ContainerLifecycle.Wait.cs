using System.Text.RegularExpressions;

namespace Wharf.Engine.Containers;

/// <summary>wait, exists, rename, restart and port: verbs that only read or relabel a container's record.</summary>
public sealed partial class ContainerLifecycle
{
    /// <summary>podman's wait conditions (podman-wait(1)); healthy/unhealthy need health checks, which wharf has not.</summary>
    private static readonly HashSet<string> WaitConditions = new(StringComparer.Ordinal)
    {
        "configured", "created", "exited", "stopped", "running", "paused",
    };

    /// <summary>podman's rule for container names (libpod's NameRegex).</summary>
    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")]
    private static partial Regex NameRule();

    public static void CheckName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!NameRule().IsMatch(name))
        {
            throw new WharfException("names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument");
        }
    }

    /// <summary>Checks <c>--condition</c> values before anything is waited on.</summary>
    public static void CheckWaitConditions(IReadOnlyList<string> conditions)
    {
        ArgumentNullException.ThrowIfNull(conditions);
        foreach (string c in conditions.Where(c => !WaitConditions.Contains(c)))
        {
            throw new WharfException($"unknown container state: {c}: invalid argument");
        }
    }

    /// <summary>
    /// podman wait: blocks until the container meets one of the conditions (default: stopped). Returns
    /// its exit code when the condition met is stopped/exited, else -1, as podman prints them.
    /// A created container that never ran counts as stopped (exit code 0), as with podman.
    /// </summary>
    public async Task<int> WaitAsync(string nameOrId, IReadOnlyList<string> conditions, TimeSpan interval, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(conditions);
        CheckWaitConditions(conditions);
        var wanted = conditions.Count == 0 ? ["stopped"] : conditions;
        var c = Lookup(nameOrId);
        while (true)
        {
            c = Store.Refresh(Store.TryRead(c.Id) ?? throw new WharfException($"no container with name or ID \"{nameOrId}\" found: no such container"));
            foreach (string w in wanted)
            {
                bool met = w switch
                {
                    "stopped" or "exited" => c.State != ContainerStates.Running,
                    "running" => c.State == ContainerStates.Running,
                    "configured" or "created" => c.State == ContainerStates.Created,
                    "paused" => c.State == ContainerStates.Paused,
                    _ => false,
                };
                if (met)
                {
                    return w is "stopped" or "exited" ? c.ExitCode : -1;
                }
            }

            await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>podman container exists: true when a name, ID or unique ID prefix names a container.</summary>
    public bool Exists(string nameOrId)
    {
        try
        {
            Store.Lookup(nameOrId);
            return true;
        }
        catch (WharfException)
        {
            return false;
        }
    }

    /// <summary>podman rename: under the containers lock, so two renames cannot take one name.</summary>
    public ContainerRecord Rename(string nameOrId, string newName)
    {
        ArgumentNullException.ThrowIfNull(newName);
        CheckName(newName);
        return Store.Locked(() =>
        {
            var c = Lookup(nameOrId);
            if (c.Name == newName)
            {
                return c;
            }

            if (Store.List().FirstOrDefault(o => o.Name == newName) is not null)
            {
                throw new WharfException(
                    $"renaming container {c.Id}: name {newName} already in use, cannot rename container {c.Id}: container already exists");
            }

            var renamed = c with { Name = newName };
            Store.Write(renamed);
            Event("rename", renamed);
            return renamed;
        });
    }

    /// <summary>podman restart: stop (stop signal, SIGKILL after the timeout) when running, then start detached.</summary>
    public async Task<ContainerRecord> RestartAsync(string nameOrId, int timeoutSeconds, CancellationToken cancellationToken)
    {
        var c = Lookup(nameOrId);
        Event("restart", c);
        if (c.State == ContainerStates.Running)
        {
            Stop(c, timeoutSeconds, record: false);
        }

        await StartAsync(c.Id, attach: false, interactive: false, cancellationToken).ConfigureAwait(false);
        return Lookup(c.Id);
    }

    /// <summary>
    /// The previous run's monitor writes the exit code before it unmounts the root filesystem: a
    /// start right after the exit (restart, stop then start) waits for it to finish (bounded), or
    /// its unmount would take the new run's root away. Only while the root is still mounted: a PID
    /// reused since by another process must not hold the start up.
    /// </summary>
    private async Task WaitMonitorGoneAsync(ContainerRecord c, CancellationToken cancellationToken)
    {
        if (c.MonitorPid <= 0 || c.MonitorPid == Environment.ProcessId)
        {
            return;
        }

        // The monitor's exit wakes the wait (its pidfd); the recheck covers an unmount it does while it lives on.
        string merged = Store.Merged(c.Id);
        await Task.Run(
            () => FileWait.Until(
                () => !ContainerNative.ProcessExists(c.MonitorPid) || !RootfsMount.IsMounted(merged),
                new WaitSources { Processes = [c.MonitorPid], Recheck = FileWait.RuntimeRecheck },
                TimeSpan.FromSeconds(30),
                cancellationToken),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// podman port: the published ports (<c>80/tcp -> 0.0.0.0:8080</c>); none for a container on the
    /// host's network or none, as podman's list is for a container run without -p.
    /// </summary>
    public IReadOnlyList<string> Ports(string nameOrId) =>
        [.. Lookup(nameOrId).Ports.Select(p => p.ToString())];

}

public sealed partial class ContainerLifecycle
{
    /// <summary>podman top: the running container's processes, as podman's ps descriptors.</summary>
    public TopReport Top(string nameOrId, IReadOnlyList<string> descriptors)
    {
        ArgumentNullException.ThrowIfNull(descriptors);
        ContainerTop.CheckDescriptors(descriptors);
        var c = Lookup(nameOrId);
        if (c.State != ContainerStates.Running || Runtime.State(c.Id) is not { Pid: > 0 } state)
        {
            throw new WharfException("top can only be used on running containers");
        }

        return ContainerTop.Read(state.Pid, Store.RootfsPath(c), descriptors.Count == 0 ? ContainerTop.DefaultDescriptors : descriptors);
    }
}
