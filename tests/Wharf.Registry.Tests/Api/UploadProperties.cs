using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using FsCheck;
using FsCheck.Fluent;
using Wharf.Oci;

namespace Wharf.Registry.Tests.Api;

/// <summary>
/// The blob upload state machine under random request sequences: POST (session or one-shot),
/// PATCH (in order, out of order, malformed range), PUT (right, wrong and malformed digest, with
/// and without a last chunk), DELETE and GET, on live sessions, finished ones and ids nobody issued,
/// through the real pipeline on a real socket. Properties: no 5xx ever; a completed upload's blob
/// is the concatenation of its chunks; after DELETE the session is gone; a live session's Range is
/// what was sent.
/// </summary>
public sealed class UploadProperties : IAsyncLifetime
{
    private const int Sequences = 30;

    private RegistryServer _server = null!;
    private int _repository;

    public async Task InitializeAsync() => _server = await RegistryServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public void RandomRequestSequences_NeverServerError_BlobsAreTheirChunks()
    {
        var sequences = Gen.Choose(1, 14).SelectMany(n => Gen.ListOf(Operation(), n)).Select(ops => ops.ToArray());
        var property = Prop.ForAll(Arb.From(sequences), ops =>
        {
            // Off the test's synchronisation context: the sequence is async I/O against the server.
            Task.Run(() => RunAsync(ops)).GetAwaiter().GetResult();
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(Sequences), property);
    }

    public enum Kind
    {
        Post,
        Patch,
        Put,
        Delete,
        Get,
    }

    /// <summary>A request: which session (by creation order; past the end an id nobody issued), how many bytes, and what is wrong with it.</summary>
    public sealed record Op(Kind Kind, int Session, int Size, Flaw Flaw)
    {
        public override string ToString() => $"{Kind}(session {Session}, {Size} bytes{(Flaw == Flaw.None ? "" : ", " + Flaw)})";
    }

    public enum Flaw
    {
        None,
        WrongOffsetOrDigest,
        Malformed,
    }

    private static Gen<Op> Operation() =>
        from kind in Gen.Frequency((3, Gen.Constant(Kind.Post)), (5, Gen.Constant(Kind.Patch)), (3, Gen.Constant(Kind.Put)), (1, Gen.Constant(Kind.Delete)), (2, Gen.Constant(Kind.Get)))
        from session in Gen.Frequency((6, Gen.Choose(0, 2)), (1, Gen.Constant(9)))
        from size in Gen.Frequency((1, Gen.Constant(0)), (4, Gen.Choose(1, 300)), (1, Gen.Choose(60_000, 200_000)))
        from flaw in Gen.Frequency((6, Gen.Constant(Flaw.None)), (1, Gen.Constant(Flaw.WrongOffsetOrDigest)), (1, Gen.Constant(Flaw.Malformed)))
        select new Op(kind, session, size, flaw);

    private enum State
    {
        Open,
        Gone,

        // After a refused PUT: whether the session survives is the server's choice.
        Undecided,
    }

    private sealed class Session(Uri location)
    {
        public Uri Location { get; set; } = location;

        public State State { get; set; } = State.Open;

        public MemoryStream Sent { get; } = new();
    }

    private async Task RunAsync(Op[] ops)
    {
        var client = _server.Client;
        string repo = $"prop/seq{Interlocked.Increment(ref _repository)}";
        var sessions = new List<Session>();
        var unknown = new Uri($"/v2/{repo}/blobs/uploads/{Guid.NewGuid():N}", UriKind.Relative);
        for (int step = 0; step < ops.Length; step++)
        {
            var op = ops[step];
            var session = op.Session < sessions.Count ? sessions[op.Session] : null;
            var location = session?.Location ?? unknown;
            byte[] chunk = Bytes(step, op.Size);
            string where = $"step {step} {op} of [{string.Join(", ", ops.AsEnumerable())}]";
            switch (op.Kind)
            {
                case Kind.Post when op.Flaw == Flaw.None:
                {
                    using var response = await SendAsync(client, HttpMethod.Post, new Uri($"/v2/{repo}/blobs/uploads/", UriKind.Relative), null, where);
                    Assert.True(response.StatusCode == HttpStatusCode.Accepted, where);
                    sessions.Add(new Session(response.Headers.Location!));
                    break;
                }

                case Kind.Post:
                {
                    // One request: the whole blob with its digest; with a wrong or malformed digest, refused.
                    bool right = op.Flaw == Flaw.WrongOffsetOrDigest;
                    string digest = right ? Digest.Compute(chunk).ToString() : op.Size % 2 == 0 ? "sha256:zz" : Digest.Compute([.. chunk, 1]).ToString();
                    using var response = await SendAsync(client, HttpMethod.Post, new Uri($"/v2/{repo}/blobs/uploads/?digest={digest}", UriKind.Relative), Body(chunk), where);
                    Assert.True(response.StatusCode == (right ? HttpStatusCode.Created : HttpStatusCode.BadRequest), where);
                    if (right)
                    {
                        using var blob = await client.GetAsync(new Uri($"/v2/{repo}/blobs/{digest}", UriKind.Relative));
                        byte[] stored = await blob.Content.ReadAsByteArrayAsync();
                        Assert.True(chunk.AsSpan().SequenceEqual(stored), "one-shot blob differs from its body: " + where);
                    }

                    break;
                }

                case Kind.Patch:
                {
                    long offset = session?.Sent.Length ?? 0;
                    var content = Body(chunk);
                    if (op.Flaw == Flaw.WrongOffsetOrDigest)
                    {
                        content.Headers.TryAddWithoutValidation("Content-Range", $"{offset + 1}-{offset + chunk.Length}");
                    }
                    else if (op.Flaw == Flaw.Malformed)
                    {
                        content.Headers.TryAddWithoutValidation("Content-Range", "bytes=-x");
                    }
                    else if (chunk.Length > 0)
                    {
                        content.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + chunk.Length - 1}");
                    }

                    using var response = await SendAsync(client, HttpMethod.Patch, location, content, where);
                    if (session is { State: State.Open })
                    {
                        if (op.Flaw == Flaw.None)
                        {
                            Assert.True(response.StatusCode == HttpStatusCode.Accepted, where);
                            session.Sent.Write(chunk);
                            session.Location = response.Headers.Location!;
                            Assert.Equal(RangeOf(session.Sent.Length), response.Headers.GetValues("Range").Single());
                        }
                        else
                        {
                            Assert.True(response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable, where);
                        }
                    }
                    else if (session is null or { State: State.Gone })
                    {
                        Assert.True(response.StatusCode == HttpStatusCode.NotFound, where);
                    }

                    break;
                }

                case Kind.Put:
                {
                    // An even size brings a last chunk along; an odd one closes with what was sent.
                    bool lastChunk = op.Size % 2 == 0;
                    byte[] expected = [.. session?.Sent.ToArray() ?? [], .. lastChunk ? chunk : []];
                    string digest = op.Flaw switch
                    {
                        Flaw.None => Digest.Compute(expected).ToString(),
                        Flaw.WrongOffsetOrDigest => Digest.Compute([.. expected, 0]).ToString(),
                        _ => "sha256:" + new string('g', 64),
                    };
                    using var response = await SendAsync(client, HttpMethod.Put, RegistryServer.AppendQuery(location, "digest=" + digest), lastChunk ? Body(chunk) : null, where);
                    if (session is { State: State.Open })
                    {
                        if (op.Flaw == Flaw.None)
                        {
                            Assert.True(response.StatusCode == HttpStatusCode.Created, where);
                            session.State = State.Gone;
                            using var blob = await client.GetAsync(new Uri($"/v2/{repo}/blobs/{digest}", UriKind.Relative));
                            Assert.True(blob.StatusCode == HttpStatusCode.OK, where);
                            byte[] stored = await blob.Content.ReadAsByteArrayAsync();
                            Assert.True(expected.AsSpan().SequenceEqual(stored), "blob differs from its chunks: " + where);
                        }
                        else
                        {
                            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, where);
                            session.State = State.Undecided;
                        }
                    }
                    else if (session is null or { State: State.Gone })
                    {
                        Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest, where);
                    }

                    break;
                }

                case Kind.Delete:
                {
                    using var response = await SendAsync(client, HttpMethod.Delete, location, null, where);
                    if (session is { State: State.Open })
                    {
                        Assert.True(response.StatusCode == HttpStatusCode.NoContent, where);
                    }
                    else if (session is null or { State: State.Gone })
                    {
                        Assert.True(response.StatusCode == HttpStatusCode.NotFound, where);
                    }

                    if (session is not null)
                    {
                        session.State = State.Gone;
                        using var status = await SendAsync(client, HttpMethod.Get, location, null, where);
                        Assert.True(status.StatusCode == HttpStatusCode.NotFound, "upload still there after DELETE: " + where);
                    }

                    break;
                }

                case Kind.Get:
                {
                    using var response = await SendAsync(client, HttpMethod.Get, location, null, where);
                    if (session is { State: State.Open })
                    {
                        Assert.True(response.StatusCode == HttpStatusCode.NoContent, where);
                        Assert.Equal(RangeOf(session.Sent.Length), response.Headers.GetValues("Range").Single());
                    }
                    else if (session is null or { State: State.Gone })
                    {
                        Assert.True(response.StatusCode == HttpStatusCode.NotFound, where);
                    }

                    break;
                }
            }
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, Uri uri, HttpContent? content, string where)
    {
        var response = await client.SendAsync(new HttpRequestMessage(method, uri) { Content = content });
        Assert.True((int)response.StatusCode < 500, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()} at {where}");
        return response;
    }

    private static ByteArrayContent Body(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return content;
    }

    // Different bytes per step, so a chunk stored twice or out of place changes the blob.
    private static byte[] Bytes(int step, int size)
    {
        var bytes = new byte[size];
        new Random((step * 7919) + size).NextBytes(bytes);
        return bytes;
    }

    private static string RangeOf(long size) => size == 0 ? "0-0" : "0-" + (size - 1).ToString(CultureInfo.InvariantCulture);
}
