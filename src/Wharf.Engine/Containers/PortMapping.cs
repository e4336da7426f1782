using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Wharf.Engine.Containers;

/// <summary>
/// One published port, <c>-p [[IP:][HOSTPORT]:]CONTAINERPORT[/PROTOCOL]</c> as podman reads it; a
/// missing host port is a free one picked at create (as <c>-P</c> does for each exposed port).
/// </summary>
public sealed record PortMapping(string HostIp, int HostPort, int ContainerPort, string Protocol)
{
    /// <summary>podman port's line: <c>80/tcp -> 0.0.0.0:8080</c>.</summary>
    public override string ToString() =>
        $"{ContainerPort}/{Protocol} -> {(HostIp.Length > 0 ? HostIp : "0.0.0.0")}:{HostPort}";

    public static PortMapping Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        string spec = value, protocol = "tcp";
        int slash = spec.LastIndexOf('/');
        if (slash >= 0)
        {
            protocol = spec[(slash + 1)..];
            spec = spec[..slash];
            if (protocol is not ("tcp" or "udp"))
            {
                throw new WharfException($"invalid port format: unknown protocol \"{protocol}\" in {value}: use tcp or udp");
            }
        }

        // An IPv6 address is bracketed: [::1]:8080:80.
        string ip = string.Empty;
        if (spec.StartsWith('['))
        {
            int close = spec.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= spec.Length || spec[close + 1] != ':')
            {
                throw new WharfException($"invalid IP address in port mapping {value}");
            }

            ip = spec[1..close];
            spec = spec[(close + 2)..];
            spec = ":" + spec;
        }

        string[] parts = spec.Split(':');
        string hostPort, containerPort;
        switch (parts.Length)
        {
            case 1:
                (hostPort, containerPort) = (string.Empty, parts[0]);
                break;
            case 2:
                (hostPort, containerPort) = (parts[0], parts[1]);
                break;
            case 3:
                (ip, hostPort, containerPort) = (ip.Length > 0 ? ip : parts[0], parts[1], parts[2]);
                break;
            default:
                throw new WharfException($"invalid port format: {value}: use [[IP:][HOSTPORT]:]CONTAINERPORT[/PROTOCOL]");
        }

        if (ip.Length > 0 && !IPAddress.TryParse(ip, out _))
        {
            throw new WharfException($"invalid IP address \"{ip}\" in port mapping {value}");
        }

        if (containerPort.Contains('-', StringComparison.Ordinal) || hostPort.Contains('-', StringComparison.Ordinal))
        {
            throw new WharfException($"port ranges ({value}) are not supported by wharf: publish each port with its own -p");
        }

        int container = Port(containerPort, value);
        int host = hostPort.Length == 0 ? FreePort(protocol) : Port(hostPort, value);
        return new PortMapping(ip, host, container, protocol);
    }

    private static int Port(string s, string value) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int p) && p is > 0 and <= 65535
            ? p
            : throw new WharfException($"invalid port number \"{s}\" in {value}: a port is 1 to 65535");

    /// <summary>A port nothing listens on now (the kernel's pick for port 0).</summary>
    public static int FreePort(string protocol)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, protocol == "udp" ? SocketType.Dgram : SocketType.Stream, protocol == "udp" ? ProtocolType.Udp : ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Any, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>
    /// Asks the container's slirp4netns, through its API socket (slirp4netns(1) "API"), to forward the
    /// host port to the container's; slirp4netns listens on the host side.
    /// </summary>
    public void Forward(string apiSocket)
    {
        var request = new JsonObject
        {
            ["execute"] = "add_hostfwd",
            ["arguments"] = new JsonObject
            {
                ["proto"] = Protocol,
                ["host_addr"] = HostIp.Length > 0 ? HostIp : "0.0.0.0",
                ["host_port"] = HostPort,
                ["guest_port"] = ContainerPort,
            },
        };
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(apiSocket));
        socket.Send(Encoding.UTF8.GetBytes(request.ToJsonString()));
        socket.Shutdown(SocketShutdown.Send);
        var reply = new StringBuilder();
        byte[] buffer = new byte[4096];
        int n;
        while ((n = socket.Receive(buffer)) > 0)
        {
            reply.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }

        if (JsonNode.Parse(reply.ToString())?["error"] is { } error)
        {
            throw new WharfException($"publishing {this}: slirp4netns: {error["desc"] ?? error}");
        }
    }
}
