using System.Net;
using System.Net.Sockets;

namespace Wharf.Testing;

public static class LoopbackPort
{
    /// <summary>
    /// A port free on 127.0.0.1 right now, for servers in another process that cannot report the
    /// port they bound. Another process may take it first; callers retry on a start that fails.
    /// In-process servers bind port 0 instead and read the address back.
    /// </summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
