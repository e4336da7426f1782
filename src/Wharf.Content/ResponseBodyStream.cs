namespace Wharf.Content;

/// <summary>
/// An HTTP response's body that keeps its response alive while it is read and disposes it with
/// itself, so a caller handed only the stream cannot leak the connection.
/// </summary>
public sealed class ResponseBodyStream(HttpResponseMessage response, Stream body) : ReadOnlyForwardingStream(body)
{
    /// <summary>The Content-Length the server announced, if any.</summary>
    public long? DeclaredLength => response.Content.Headers.ContentLength;

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            response.Dispose();
        }
    }
}
