using System.Net;
using System.Net.Sockets;

namespace Wharf.Registry.Webhooks;

/// <summary>
/// The admins' allow-list of where webhooks may post (<c>Webhooks:AllowedNetworks</c>, CIDR networks such
/// as <c>10.20.0.0/16</c> or <c>2001:db8::/32</c>). Empty: anywhere. Otherwise a target is reached only at
/// an address inside one of them: its host name is resolved when the sender connects and only the
/// permitted addresses are tried, so a name that later resolves to an internal address (or one that
/// resolves to several) never leads a delivery past the list. An address written in a policy as a
/// literal is checked when the policy is saved.
/// </summary>
public sealed class WebhookTargetNetworks
{
    private readonly IPNetwork[] _networks;

    public WebhookTargetNetworks(WebhookOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _networks = [.. options.AllowedNetworks.Select(text => IPNetwork.TryParse(text.Trim(), out var network)
            ? network
            : throw new InvalidOperationException($"Webhooks:AllowedNetworks: \"{text}\" is not a network in CIDR notation (such as 10.20.0.0/16)"))];
    }

    public bool IsRestricted => _networks.Length > 0;

    public string Describe => string.Join(", ", _networks.Select(n => n.ToString()));

    public bool Allows(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!IsRestricted)
        {
            return true;
        }

        var plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return _networks.Any(n => n.Contains(plain));
    }

    /// <summary>Refuses a target URL whose host is an address literal outside the list (a host name is checked at delivery).</summary>
    public string? RefusalOf(Uri address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return IsRestricted && IPAddress.TryParse(address.IdnHost.Trim('[', ']'), out var ip) && !Allows(ip)
            ? $"target address {address} is outside the networks webhooks may post to (Webhooks:AllowedNetworks: {Describe})"
            : null;
    }

    /// <summary>The sender's connect step: resolve, keep the permitted addresses, connect to the first that answers.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var endpoint = context.DnsEndPoint;
        var resolved = IPAddress.TryParse(endpoint.Host.Trim('[', ']'), out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(endpoint.Host, cancellationToken).ConfigureAwait(false);
        var permitted = resolved.Where(Allows).ToList();
        if (permitted.Count == 0)
        {
            throw new HttpRequestException(
                $"{endpoint.Host} ({string.Join(", ", resolved.Select(a => a.ToString()))}) is outside the networks webhooks may post to (Webhooks:AllowedNetworks: {Describe})");
        }

        SocketException? last = null;
        foreach (var address in permitted)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, endpoint.Port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw new HttpRequestException($"cannot connect to {endpoint.Host}:{endpoint.Port}: {last?.Message}", last);
    }
}
