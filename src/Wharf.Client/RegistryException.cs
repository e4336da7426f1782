using System.Net;

namespace Wharf.Client;

/// <summary>A registry answered with an error, or could not be reached; the message reads as podman's does.</summary>
public class RegistryException : Exception
{
    public RegistryException()
    {
    }

    public RegistryException(string message)
        : base(message)
    {
    }

    public RegistryException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public RegistryException(string message, HttpStatusCode? status, string? code = null)
        : base(message)
    {
        Status = status;
        Code = code;
    }

    public HttpStatusCode? Status { get; }

    /// <summary>The first error code of the registry's JSON body, e.g. <c>MANIFEST_UNKNOWN</c>.</summary>
    public string? Code { get; }
}
