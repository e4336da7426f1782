using Wharf.Client;
using Wharf.Client.Config;
using Wharf.Engine.Storage;

namespace Wharf.Engine;

public sealed class EngineOptions
{
    public HostEnvironment Environment { get; init; } = HostEnvironment.Current;

    /// <summary><c>--root</c>: overrides graphroot.</summary>
    public string? Root { get; init; }

    /// <summary><c>--runroot</c>.</summary>
    public string? RunRoot { get; init; }

    /// <summary>Where progress lines go (podman writes them to stderr).</summary>
    public TextWriter Progress { get; init; } = TextWriter.Null;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Live progress bars for pulls and pushes (a terminal); null prints podman's plain lines.</summary>
    public ITransferProgress? TransferProgress { get; init; }

    /// <summary>Replaces the network transport of every registry client; tests script it.</summary>
    public HttpMessageHandler? Transport { get; init; }

    public Func<int, TimeSpan>? RetryDelay { get; init; }

    /// <summary><c>--events-backend</c>: <c>file</c> (the default) records events, <c>none</c> does not.</summary>
    public string EventsBackend { get; init; } = "file";

    /// <summary><c>--log-level debug</c>: where the engine says what it does (podman's logrus debug lines); null when quiet.</summary>
    public Action<string>? Debug { get; init; }

    /// <summary><c>--runtime</c>: the OCI runtime's name or path; null leaves the choice to <c>WHARF_RUNTIME</c>, then runc, then crun.</summary>
    public string? Runtime { get; init; }

    /// <summary><c>--runtime-flag</c>: global flags for every runtime call, each given without its leading <c>--</c>.</summary>
    public IReadOnlyList<string> RuntimeFlags { get; init; } = [];

    /// <summary><c>--volumepath</c>: where named volumes live instead of <c>&lt;graphroot&gt;/wharf/volumes</c>.</summary>
    public string? VolumePath { get; init; }

    /// <summary><c>--storage-opt overlay.mount_program=…fuse-overlayfs</c>: containers' roots mounted with fuse-overlayfs.</summary>
    public string? RootfsDriver { get; init; }
}

/// <summary>
/// podman's image domain over one local store: the store, its configuration (storage.conf,
/// registries.conf), the clock and the events file, shared by its two parts — <see cref="Registry"/>
/// (what talks to registries: pull, push, login, search, resolve, mirror) and <see cref="Local"/>
/// (what works on the store alone: tag, rm, images, inspect, history, save/load/import, publish,
/// layer collection, system df/reset/check/info). Each verb takes <c>XxxOptions</c> and returns
/// <c>XxxReport</c>; the command line only parses and prints.
/// </summary>
public sealed class ImageEngine
{
    private readonly EngineOptions _options;
    private RegistriesConf? _registries;

    public ImageEngine(EngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        Storage = StorageConfig.Load(options.Environment, options.Root, options.RunRoot);
        foreach (string warning in Storage.Warnings)
        {
            options.Progress.WriteLine("WARN[0000] " + warning);
        }

        var progress = options.Progress;
        void Warn(string message)
        {
            lock (progress)
            {
                progress.WriteLine("WARN[0000] " + message);
                progress.Flush();
            }
        }

        Store = new ImageStore(Storage.GraphRoot)
        {
            ReadOnlyStores = ReadOnlyStores.Open(Storage.AdditionalImageStores, Storage.GraphRoot, Warn),
        };
        Events = new Events.EventLog(Storage.RunRoot, options.Time, options.EventsBackend != "none");
        Registry = new RegistryImages(this);
        Local = new LocalImages(this);
    }

    /// <summary>wharf's version, as <c>version</c> and <c>info</c> print it.</summary>
    public static string Version => typeof(ImageEngine).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>The verbs that talk to registries: pull, push, login, logout, search, resolve, mirror.</summary>
    public RegistryImages Registry { get; }

    /// <summary>The verbs on the local store alone: tag, rm, images, inspect, history, save, load, import, publish, system df/reset/check/info.</summary>
    public LocalImages Local { get; }

    /// <summary>Where every verb records what it did (podman's events file backend).</summary>
    public Events.EventLog Events { get; }

    public StorageConfig Storage { get; }

    public ImageStore Store { get; }

    public HostEnvironment Environment => _options.Environment;

    /// <summary>Says what the engine does at <c>--log-level debug</c>.</summary>
    public Action<string>? DebugLog => _options.Debug;

    /// <summary><c>--runtime</c>, when given.</summary>
    public string? RuntimeName => _options.Runtime;

    /// <summary><c>--runtime-flag</c> values, each already <c>--FLAG</c>.</summary>
    public IReadOnlyList<string> RuntimeFlags => [.. _options.RuntimeFlags.Select(f => "--" + f)];

    /// <summary>Where named volumes live: <c>--volumepath</c>, else <c>&lt;graphroot&gt;/wharf/volumes</c>.</summary>
    public string VolumePath => _options.VolumePath ?? Path.Combine(Storage.GraphRoot, "wharf", "volumes");

    /// <summary>The root filesystem driver asked for by <c>--storage-opt</c>, null when none.</summary>
    public string? RootfsDriver => _options.RootfsDriver;

    /// <summary>The engine's clock (<see cref="EngineOptions.Time"/>): the container and job engines built on this one read it too, so tests control every timestamp.</summary>
    public TimeProvider Time => _options.Time;

    public RegistriesConf Registries
    {
        get
        {
            if (_registries is null)
            {
                try
                {
                    _registries = RegistriesConf.Load(_options.Environment);
                }
                catch (InvalidDataException e)
                {
                    throw new WharfException(e.Message, e);
                }
            }

            return _registries;
        }
    }

    internal EngineOptions Options => _options;

    internal TextWriter Progress => _options.Progress;

    internal void Log(bool quiet, string line)
    {
        if (!quiet)
        {
            Progress.WriteLine(line);
            Progress.Flush();
        }
    }
}

/// <summary>
/// A part of an <see cref="ImageEngine"/>: it works on the engine's store with the engine's
/// configuration, clock and events, and holds no state of its own.
/// </summary>
public abstract class ImageEnginePart
{
    private protected ImageEnginePart(ImageEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        Engine = engine;
    }

    /// <summary>The engine this part belongs to.</summary>
    public ImageEngine Engine { get; }

    private protected EngineOptions Options => Engine.Options;

    private protected ImageStore Store => Engine.Store;

    private protected StorageConfig Storage => Engine.Storage;

    private protected Events.EventLog Events => Engine.Events;

    private protected HostEnvironment Environment => Engine.Environment;

    private protected TimeProvider Time => Engine.Time;

    private protected Action<string>? DebugLog => Engine.DebugLog;

    private protected RegistriesConf Registries => Engine.Registries;

    private protected TextWriter Progress => Engine.Progress;

    private protected void Log(bool quiet, string line) => Engine.Log(quiet, line);
}
