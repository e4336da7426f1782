using System.Net;
using System.Net.Sockets;
using System.Text;
using Wharf.Oci;

namespace Wharf.Client.Tests.Http;

/// <summary>A blob server on a real socket that closes the first blob connection half-way through the body.</summary>
public sealed class ResumeSocketTests : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly byte[] _blob = new byte[300_000];
    private readonly List<string> _requests = [];
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(60));

    public ResumeSocketTests()
    {
        new Random(9).NextBytes(_blob);
        _listener.Start();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }

    private async Task ServeAsync()
    {
        int blobRequests = 0;
        while (!_stop.IsCancellationRequested)
        {
            using var socket = await _listener.AcceptSocketAsync(_stop.Token);
            byte[] buffer = new byte[8192];
            int n = await socket.ReceiveAsync(buffer, _stop.Token);
            if (n == 0 || buffer[0] == 0x16)
            {
                continue; // a TLS ClientHello: not spoken here, the client falls back to http
            }

            string head = Encoding.ASCII.GetString(buffer, 0, n);
            string first = head[..head.IndexOf('\r', StringComparison.Ordinal)];
            string? range = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Range:", StringComparison.OrdinalIgnoreCase))?[6..].Trim();
            lock (_requests)
            {
                _requests.Add(range is null ? first : $"{first} [{range}]");
            }

            if (first.StartsWith("GET /v2/ ", StringComparison.Ordinal))
            {
                await socket.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray(), _stop.Token);
            }
            else if (++blobRequests == 1)
            {
                await socket.SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {_blob.Length}\r\nConnection: close\r\n\r\n"), _stop.Token);
                await socket.SendAsync(_blob.AsMemory(0, 120_000), _stop.Token);
                socket.LingerState = new LingerOption(true, 0); // reset, as a dropped connection
            }
            else
            {
                long from = long.Parse(range!["bytes=".Length..].TrimEnd('-'), System.Globalization.CultureInfo.InvariantCulture);
                await socket.SendAsync(Encoding.ASCII.GetBytes(
                    $"HTTP/1.1 206 Partial Content\r\nContent-Length: {_blob.Length - from}\r\nContent-Range: bytes {from}-{_blob.Length - 1}/{_blob.Length}\r\nConnection: close\r\n\r\n"), _stop.Token);
                await socket.SendAsync(_blob.AsMemory((int)from), _stop.Token);
            }

            socket.Shutdown(SocketShutdown.Both);
        }
    }

    [Fact]
    public async Task Fetch_RealConnectionResetMidBody_ResumedWithRangeAndVerified()
    {
        var server = Task.Run(ServeAsync);
        int port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        var layer = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Compute(_blob), Size = _blob.Length };
        using var client = new RegistryClient($"127.0.0.1:{port}", new RegistryClientOptions { TlsVerify = false, RetryDelay = _ => TimeSpan.Zero });

        using var stream = await client.Repository("lab/app").FetchAsync(layer, _stop.Token);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, _stop.Token);

        Assert.Equal(_blob, copy.ToArray());
        var blobRequests = _requests.Where(r => r.Contains("/blobs/", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, blobRequests.Count);
        Assert.DoesNotContain("[", blobRequests[0], StringComparison.Ordinal);
        // From the byte the client got to: all 120000 sent, unless the reset discarded some in flight.
        var resumedAt = System.Text.RegularExpressions.Regex.Match(blobRequests[1], @"\[bytes=([0-9]+)-\]$");
        Assert.True(resumedAt.Success, blobRequests[1]);
        Assert.InRange(long.Parse(resumedAt.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 1, 120_000);
        Assert.False(server.IsFaulted);
    }
}
