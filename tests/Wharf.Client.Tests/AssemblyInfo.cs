// The tests drive Linux tools and file modes.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
