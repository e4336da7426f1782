using Wharf.Registry.Management;

namespace Wharf.Registry.Projects;

/// <summary>Harbor's rule for a project's storage limit, wherever one is set (a new project, a quota update).</summary>
public static class StorageLimits
{
    /// <summary>The limit to store for a requested one: -1 (or absent) is unlimited (null); anything else must be a positive byte count.</summary>
    public static long? FromRequested(long? requested) => requested switch
    {
        null or -1 => null,
        > 0 => requested,
        _ => throw ApiException.BadRequest("storage limit must be -1 (unlimited) or a positive number of bytes"),
    };
}
