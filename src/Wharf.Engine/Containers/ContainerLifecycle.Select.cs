namespace Wharf.Engine.Containers;

/// <summary>Choosing containers for rm/start/stop/kill, and rm's stop-before-remove.</summary>
public sealed partial class ContainerLifecycle
{
    /// <summary>
    /// The containers a selection names, each with the word to print (the name as given, else the
    /// full ID). Every name is looked up before anything is done, so one missing name changes nothing;
    /// <paramref name="missingExitCode"/> is podman's code for that (1 for rm, 125 elsewhere).
    /// </summary>
    public IReadOnlyList<(ContainerRecord Container, string Shown)> Select(ContainerSelection selection, int missingExitCode = 125)
    {
        ArgumentNullException.ThrowIfNull(selection);
        selection.Check();
        if (selection.ByName)
        {
            var found = new List<(ContainerRecord, string)>();
            foreach (string n in selection.Names)
            {
                try
                {
                    found.Add((Lookup(n), n));
                }
                catch (WharfException e) when (e.Message.EndsWith("no such container", StringComparison.Ordinal))
                {
                    if (!selection.Ignore)
                    {
                        throw new WharfException(e.Message, missingExitCode);
                    }
                }
            }

            return found;
        }

        var filter = ContainerFilter.Parse(selection.Filters);
        var all = List();
        var chosen = selection.Latest ? all.OrderBy(c => c.Created).TakeLast(1) : all.Where(filter.Matches);
        return [.. chosen.Select(c => (c, c.Id))];
    }

    /// <summary>
    /// podman's <c>--latest</c>: the container created last, whatever its state; none is podman's
    /// <c>no such container</c>.
    /// </summary>
    public ContainerRecord Latest() =>
        List().OrderBy(c => c.Created).LastOrDefault() ?? throw new WharfException("no such container");

    /// <summary>
    /// podman rm with <c>-t</c>: a running container (with <c>-f</c>) gets its stop signal and
    /// <paramref name="stopTimeoutSeconds"/> to exit before SIGKILL; without <c>-t</c> it is killed at once.
    /// </summary>
    public string Remove(ContainerRecord container, bool force, int? stopTimeoutSeconds)
    {
        ArgumentNullException.ThrowIfNull(container);
        var c = Store.Refresh(container);
        if (force && stopTimeoutSeconds is int t && c.State == ContainerStates.Running)
        {
            Stop(c, t, record: false);
        }

        Remove(c, force);
        return c.Id;
    }
}
