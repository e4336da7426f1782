using System.Text.Json.Nodes;

namespace Wharf.Engine.Containers;

/// <summary>
/// The keys of podman 4.3's <c>container inspect</c> that wharf has no setting for, with the values
/// podman shows for a container that does not use them, so scripts reading them find podman's types.
/// Only absent keys are added: what the engine reports always wins.
/// </summary>
public static class InspectDefaults
{
    public static JsonObject Complete(JsonObject inspect)
    {
        ArgumentNullException.ThrowIfNull(inspect);
        Fill(inspect, new JsonObject
        {
            ["Rootfs"] = string.Empty,
            ["Pod"] = string.Empty,
            ["ResolvConfPath"] = string.Empty,
            ["HostnamePath"] = string.Empty,
            ["HostsPath"] = string.Empty,
            ["MountLabel"] = string.Empty,
            ["ProcessLabel"] = string.Empty,
            ["AppArmorProfile"] = string.Empty,
            ["Namespace"] = string.Empty,
            ["NetworkSettings"] = new JsonObject
            {
                ["EndpointID"] = string.Empty,
                ["Gateway"] = string.Empty,
                ["IPAddress"] = string.Empty,
                ["IPPrefixLen"] = 0,
                ["IPv6Gateway"] = string.Empty,
                ["GlobalIPv6Address"] = string.Empty,
                ["GlobalIPv6PrefixLen"] = 0,
                ["MacAddress"] = string.Empty,
                ["Bridge"] = string.Empty,
                ["SandboxID"] = string.Empty,
                ["HairpinMode"] = false,
                ["LinkLocalIPv6Address"] = string.Empty,
                ["LinkLocalIPv6PrefixLen"] = 0,
                ["Ports"] = new JsonObject(),
                ["SandboxKey"] = string.Empty,
            },
        });
        if (inspect["HostConfig"] is JsonObject host)
        {
            Fill(host, new JsonObject
            {
                ["CgroupManager"] = "cgroupfs",
                ["ContainerIDFile"] = string.Empty,
                ["PortBindings"] = new JsonObject(),
                ["RestartPolicy"] = new JsonObject { ["Name"] = string.Empty, ["MaximumRetryCount"] = 0 },
                ["VolumeDriver"] = string.Empty,
                ["VolumesFrom"] = null,
                ["CapAdd"] = new JsonArray(),
                ["CapDrop"] = new JsonArray(),
                ["Dns"] = new JsonArray(),
                ["DnsOptions"] = new JsonArray(),
                ["DnsSearch"] = new JsonArray(),
                ["ExtraHosts"] = new JsonArray(),
                ["GroupAdd"] = new JsonArray(),
                ["Links"] = null,
                ["OomScoreAdj"] = 0,
                ["Privileged"] = false,
                ["PublishAllPorts"] = false,
                ["ReadonlyRootfs"] = false,
                ["SecurityOpt"] = new JsonArray(),
                ["Tmpfs"] = new JsonObject(),
                ["UsernsMode"] = string.Empty,
                ["Runtime"] = "oci",
                ["ConsoleSize"] = new JsonArray(0, 0),
                ["CpuShares"] = 0,
                ["Memory"] = 0,
                ["NanoCpus"] = 0,
                ["CgroupParent"] = string.Empty,
                ["CpuPeriod"] = 0,
                ["CpuQuota"] = 0,
                ["CpusetCpus"] = string.Empty,
                ["CpusetMems"] = string.Empty,
                ["MemoryReservation"] = 0,
                ["MemorySwap"] = 0,
                ["OomKillDisable"] = false,
                ["PidsLimit"] = 0,
            });
        }

        return inspect;
    }

    private static void Fill(JsonObject target, JsonObject defaults)
    {
        foreach (string key in defaults.Select(p => p.Key).ToList())
        {
            if (!target.ContainsKey(key))
            {
                var value = defaults[key];
                defaults.Remove(key);
                target[key] = value;
            }
        }
    }
}
