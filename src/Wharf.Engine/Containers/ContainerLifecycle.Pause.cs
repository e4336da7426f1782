namespace Wharf.Engine.Containers;

/// <summary>
/// podman pause/unpause: the runtime freezes the container's cgroup (runc pause/resume, the cgroup
/// freezer), and the record says <c>paused</c> until it is resumed.
/// </summary>
public sealed partial class ContainerLifecycle
{
    public ContainerRecord Pause(string nameOrId)
    {
        return Store.Locked(() =>
        {
            var c = Lookup(nameOrId);
            if (c.State == ContainerStates.Paused)
            {
                throw new WharfException($"\"{c.Id}\" is already paused: container state improper");
            }

            if (c.State != ContainerStates.Running)
            {
                throw new WharfException($"\"{c.State}\" is not running, can't pause: container state improper");
            }

            var (code, _, stderr) = Runtime.Call("pause", c.Id);
            if (code != 0)
            {
                throw new WharfException($"pausing container {c.Id}: {Path.GetFileName(Runtime.Path)}: {stderr.Trim()}");
            }

            c.State = ContainerStates.Paused;
            Store.Write(c);
            Event("pause", c);
            return c;
        });
    }

    public ContainerRecord Unpause(string nameOrId)
    {
        return Store.Locked(() =>
        {
            var c = Lookup(nameOrId);
            if (c.State != ContainerStates.Paused)
            {
                throw new WharfException($"\"{c.Id}\" is not paused, can't unpause: container state improper");
            }

            Resume(c);
            Event("unpause", c);
            return c;
        });
    }

    /// <summary>Thaws the container and records it running again (unpause, and rm -f of a paused container).</summary>
    private void Resume(ContainerRecord c)
    {
        var (code, _, stderr) = Runtime.Call("resume", c.Id);
        if (code != 0)
        {
            throw new WharfException($"unpausing container {c.Id}: {Path.GetFileName(Runtime.Path)}: {stderr.Trim()}");
        }

        c.State = ContainerStates.Running;
        Store.Write(c);
    }
}
