using System.CommandLine;
using Wharf.Cli.Images;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf container inspect CONTAINER...</c>: <c>inspect --type container</c>.</summary>
public static class ContainerInspectCommand
{
    public static Command Create(CliContext context) => InspectCommand.Create(context, "inspect", fixedType: "container");
}
