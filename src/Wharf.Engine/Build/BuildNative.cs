using System.Runtime.InteropServices;

namespace Wharf.Engine.Build;

internal static partial class BuildNative
{
    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Lchown(string path, int owner, int group);
}
