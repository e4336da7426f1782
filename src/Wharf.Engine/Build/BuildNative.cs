using System.Runtime.InteropServices;

namespace Wharf.Engine.Build;

internal static partial class BuildNative
{
    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Lchown(string path, int owner, int group);

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    public static partial int Dup(int fd);

    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    public static partial int Dup2(int oldFd, int newFd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    /// <summary>
    /// Points this process's stdout at its stderr until disposed, so a RUN container (which inherits
    /// the descriptors) cannot write into <c>build -q</c>'s output, which must be the image ID alone.
    /// </summary>
    public static IDisposable StdoutToStderr()
    {
        Console.Out.Flush();
        int saved = Dup(1);
        if (saved < 0 || Dup2(2, 1) < 0)
        {
            if (saved >= 0)
            {
                Close(saved);
            }

            return new Restore(-1);
        }

        return new Restore(saved);
    }

    private sealed class Restore(int saved) : IDisposable
    {
        public void Dispose()
        {
            if (saved >= 0)
            {
                Dup2(saved, 1);
                Close(saved);
            }
        }
    }
}
