namespace Wharf.Content;

/// <summary>Content that is not what its descriptor says, or that is missing.</summary>
public class ContentException : Exception
{
    public ContentException()
    {
    }

    public ContentException(string message)
        : base(message)
    {
    }

    public ContentException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

public sealed class ContentNotFoundException : ContentException
{
    public ContentNotFoundException()
    {
    }

    public ContentNotFoundException(string message)
        : base(message)
    {
    }

    public ContentNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
