using System.Text.Json;

namespace Wharf.Cli.Output;

/// <summary>
/// How the CLI prints JSON (inspect, ps/images/search --format json, info, version): indented, as
/// podman does. One options instance: System.Text.Json caches its metadata per instance.
/// </summary>
public static class JsonOutput
{
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
