namespace Wharf.Registry.Storage;

/// <summary>
/// Everything wharfd keeps is private to its user: directories 0700, files 0600. A private
/// project's layers, the database and the signing key sit under one data directory, and on a shared
/// host another local user must not read them, whatever the umask of whoever started wharfd.
/// </summary>
public static class PrivateFiles
{
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates the directory and its missing parents as 0700; existing ones are left as they are.</summary>
    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        // .NET gives the mode to the last directory only; missing parents (blobs/sha256 for
        // blobs/sha256/ab) are made one by one so each is private too.
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            return;
        }

        if (Path.GetDirectoryName(full) is { } parent)
        {
            CreateDirectory(parent);
        }

        Directory.CreateDirectory(full, DirectoryMode);
    }

    /// <summary>Options for a new file that only its owner may read.</summary>
    public static FileStreamOptions Create(System.IO.FileMode mode, FileAccess access, FileShare share = FileShare.None, FileOptions options = FileOptions.None, int bufferSize = 4096)
    {
        var result = new FileStreamOptions { Mode = mode, Access = access, Share = share, Options = options, BufferSize = bufferSize };
        if (!OperatingSystem.IsWindows())
        {
            result.UnixCreateMode = FileMode;
        }

        return result;
    }

    /// <summary>
    /// Makes the data directory private; when it was not (written by an older wharfd, or restored from
    /// a backup), also takes group and other access away from everything in it. The
    /// database is created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the
    /// database file's mode. <paramref name="databaseFileName"/> is null when the metadata is not in a
    /// file of the data directory (PostgreSQL): then no database file is made.
    /// </summary>
    public static void SecureDataDirectory(string dataDirectory, string? databaseFileName = "registry.db")
    {
        CreateDirectory(dataDirectory);
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        const UnixFileMode open = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        bool wasOpen = (File.GetUnixFileMode(dataDirectory) & open) != 0;
        File.SetUnixFileMode(dataDirectory, DirectoryMode);
        string? database = databaseFileName is null ? null : Path.Combine(dataDirectory, databaseFileName);
        if (database is not null && !File.Exists(database))
        {
            using (new FileStream(database, Create(System.IO.FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite)))
            {
            }
        }

        if (!wasOpen)
        {
            // A private data directory already keeps everyone else out of what is inside it; not
            // walking it keeps the start of a registry with millions of blobs quick.
            return;
        }

        foreach (var entry in new DirectoryInfo(dataDirectory).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true }))
        {
            if (entry.LinkTarget is not null)
            {
                continue; // never follow a link out of the data directory
            }

            if ((entry.UnixFileMode & open) != 0)
            {
                entry.UnixFileMode &= ~open;
            }
        }
    }
}
