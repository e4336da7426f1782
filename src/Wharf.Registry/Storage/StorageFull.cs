using Microsoft.AspNetCore.Http;
using System.Data.Common;
using Wharf.Oci;
using Wharf.Registry.Api;

namespace Wharf.Registry.Storage;

/// <summary>
/// A full disk (or an exhausted filesystem quota) is the operator's problem, not a server bug: the
/// client gets <c>507 Insufficient Storage</c> with a registry error body naming the cause instead
/// of a 500, and the registry serves again as soon as space is freed.
/// </summary>
public static class StorageFull
{
    private const int Enospc = 28;
    private const int Edquot = 122;

    public static bool IsOutOfSpace(Exception exception) => exception switch
    {
        IOException io => (io.HResult & 0xFFFF) is Enospc or Edquot || io.HResult == unchecked((int)0x80070070), // ERROR_DISK_FULL
        DbException database => Data.Sql.IsDiskFull(database),
        _ => false,
    };

    public static OciException Error(Exception cause)
    {
        ArgumentNullException.ThrowIfNull(cause);
        return new OciException(OciErrorCode.Unavailable, $"insufficient storage: the registry's disk is full ({cause.Message}); nothing of this request was kept")
        {
            StatusOverride = 507,
        };
    }

    /// <summary>
    /// Wraps the distribution API so that a full disk met anywhere in it (a manifest's database
    /// write, a blob's rename) answers 507 with the registry's error body rather than a 500; the
    /// upload handlers translate their own failures before this, after dropping the upload's data.
    /// </summary>
    public static RequestDelegate Guard(RequestDelegate next) => async context =>
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Exception e) when (IsOutOfSpace(e) && !context.Response.HasStarted)
        {
            var error = Error(e);
            await OciErrorWriter.WriteAsync(context, error.Code, error.Detail, error.Headers, error.StatusOverride).ConfigureAwait(false);
        }
    };
}
