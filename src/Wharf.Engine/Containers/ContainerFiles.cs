namespace Wharf.Engine.Containers;

/// <summary>
/// The container's filesystem seen from outside: diff, commit (through the image writer), cp,
/// export, mount and unmount. Verbs live in <c>ContainerFiles.*.cs</c>. Part of <see cref="ContainerEngine"/>.
/// </summary>
public sealed partial class ContainerFiles : ContainerEnginePart
{
    internal ContainerFiles(ContainerEngine engine)
        : base(engine)
    {
    }
}
