namespace Wharf.Registry.Api;

/// <summary>What a blob GET sends: the whole blob, one part of it, or nothing (416).</summary>
internal enum BlobRangeKind
{
    Whole,
    Partial,
    Unsatisfiable,
}

/// <summary>
/// The part of a blob a GET asks for (RFC 9110 14.2 Range, 13.1.5 If-Range). One range is served
/// (<c>bytes=a-b</c>, <c>bytes=a-</c>, <c>bytes=-n</c>): that is what a client resuming an
/// interrupted pull sends. Several ranges are answered with the whole blob, which the RFC allows
/// (a server MAY ignore Range) and which no registry client asks for. A range whose syntax is not
/// the RFC's is refused with 416, as distribution does, so a client bug shows instead of silently
/// costing a full download.
/// </summary>
internal readonly record struct BlobRange(BlobRangeKind Kind, long Offset, long Length)
{
    public static BlobRange Evaluate(string? range, string? ifRange, string etag, long size)
    {
        var whole = new BlobRange(BlobRangeKind.Whole, 0, size);
        if (string.IsNullOrWhiteSpace(range))
        {
            return whole;
        }

        // If-Range with another validator (an older ETag, or a date: blobs have no Last-Modified) means
        // "my partial copy may be of something else": send everything. Content is immutable, so the
        // strong comparison of our digest ETag is exact.
        if (!string.IsNullOrWhiteSpace(ifRange) && !string.Equals(ifRange.Trim(), etag, StringComparison.Ordinal))
        {
            return whole;
        }

        var text = range.AsSpan().Trim();
        int equals = text.IndexOf('=');
        if (equals < 0)
        {
            return Unsatisfiable(size);
        }

        if (!text[..equals].Trim().Equals("bytes", StringComparison.OrdinalIgnoreCase))
        {
            return whole; // a unit we do not know is ignored (RFC 9110 14.2)
        }

        var spec = text[(equals + 1)..].Trim();
        if (spec.Contains(','))
        {
            return whole;
        }

        int dash = spec.IndexOf('-');
        if (dash < 0)
        {
            return Unsatisfiable(size);
        }

        var first = spec[..dash].Trim();
        var last = spec[(dash + 1)..].Trim();
        if (first.IsEmpty)
        {
            // bytes=-n: the last n bytes; -0 and any suffix of an empty blob select nothing.
            if (!TryParseDigits(last, out long suffix) || suffix == 0 || size == 0)
            {
                return Unsatisfiable(size);
            }

            long from = Math.Max(0, size - suffix);
            return new BlobRange(BlobRangeKind.Partial, from, size - from);
        }

        if (!TryParseDigits(first, out long start) || start >= size)
        {
            return Unsatisfiable(size);
        }

        long end = size - 1;
        if (!last.IsEmpty)
        {
            if (!TryParseDigits(last, out end) || end < start)
            {
                return Unsatisfiable(size);
            }

            end = Math.Min(end, size - 1);
        }

        return new BlobRange(BlobRangeKind.Partial, start, end - start + 1);
    }

    /// <summary>The <c>Content-Range</c> value of this answer (206 or 416).</summary>
    public string ContentRange(long size) =>
        Kind == BlobRangeKind.Partial ? $"bytes {Offset}-{Offset + Length - 1}/{size}" : $"bytes */{size}";

    private static BlobRange Unsatisfiable(long size) => new(BlobRangeKind.Unsatisfiable, 0, size);

    // 1*DIGIT only (long.TryParse would also take a sign); a number too large for a long is
    // long.MaxValue, which is past the end of any blob.
    private static bool TryParseDigits(ReadOnlySpan<char> text, out long value)
    {
        value = 0;
        if (text.IsEmpty)
        {
            return false;
        }

        foreach (char c in text)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }

            value = value > (long.MaxValue - 9) / 10 ? long.MaxValue : (value * 10) + (c - '0');
        }

        return true;
    }
}
