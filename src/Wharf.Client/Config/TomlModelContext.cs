using Tomlyn.Model;
using Tomlyn.Serialization;

namespace Wharf.Client.Config;

/// <summary>
/// Source-generated TOML metadata for the untyped model every configuration file is read into
/// (registries.conf, storage.conf, wharf.conf): the reflection-based <c>TomlSerializer.Deserialize&lt;T&gt;</c>
/// is not trimming-safe, and the CLI ships as a NativeAOT binary.
/// </summary>
[TomlSerializable(typeof(TomlTable))]
public sealed partial class TomlModelContext : TomlSerializerContext;
