
namespace Wharf.Registry.SharedStore;

/// <summary>
/// <c>Registry:SharedStore</c>: the shared image store wharfd publishes into (docs/shared-store.md,
/// "Publishing from the registry"). Without <see cref="Path"/> nothing is published and a project
/// cannot ask for it.
/// </summary>
public sealed class SharedStoreOptions
{
    /// <summary>The store's directory, as the nodes' <c>additionalimagestores</c> name it.</summary>
    public string? Path { get; set; }

    /// <summary><c>squashfs</c> (the default: one file per layer; unpacked directories where mksquashfs is missing) or <c>dir</c>.</summary>
    public string Format { get; set; } = "squashfs";

    /// <summary>
    /// The registry's address as clients pull from it (<c>registry.example</c>, <c>host:5000</c>): published names
    /// are <c>HOST/project/repository:tag</c>. Unset: the first address wharfd listens on.
    /// </summary>
    public string? Host { get; set; }

    /// <summary>The platform taken from a pushed index (<c>os/arch[/variant]</c>); unset: linux and this host's architecture.</summary>
    public string? Platform { get; set; }

    /// <summary>How often every publishing project is compared with the store (what a missed event or a failure left).</summary>
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromMinutes(5);

    public bool Enabled => !string.IsNullOrWhiteSpace(Path);

    /// <summary>The platform's parts; Go's architecture names, as image indexes use them.</summary>
    public (string Os, string Architecture, string? Variant) PlatformParts()
    {
        if (string.IsNullOrWhiteSpace(Platform))
        {
            string arch = Wharf.Oci.Platform.HostArchitecture;
            return ("linux", arch, null);
        }

        string[] parts = Platform.Split('/');
        return parts.Length is 2 or 3 && parts.All(p => p.Length > 0)
            ? (parts[0], parts[1], parts.Length == 3 ? parts[2] : null)
            : throw new InvalidOperationException($"Registry:SharedStore:Platform \"{Platform}\": expected os/arch or os/arch/variant");
    }

    /// <summary>Checked at start: a bad setting stops wharfd instead of failing every publish.</summary>
    public void Validate()
    {
        if (!Enabled)
        {
            return;
        }

        if (Format is not ("squashfs" or "dir"))
        {
            throw new InvalidOperationException($"Registry:SharedStore:Format \"{Format}\": use \"squashfs\" or \"dir\"");
        }

        if (ReconcileInterval <= TimeSpan.Zero)
        {
            throw new InvalidOperationException("Registry:SharedStore:ReconcileInterval must be positive");
        }

        _ = PlatformParts();
    }
}
