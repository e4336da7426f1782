namespace Wharf.Registry.SharedStore;

/// <summary>The project metadata key (Harbor-style, a string "true"/"false") that makes wharfd publish a project's images.</summary>
public static class SharedStoreMetadata
{
    public const string Key = "publish_to_shared_store";
}
