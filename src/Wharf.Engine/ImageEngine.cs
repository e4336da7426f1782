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
/// podman's image domain: each verb takes <c>XxxOptions</c> and returns <c>XxxReport</c>; the
/// command line only parses and prints. Verbs live in partial files under Images/ and System/.
/// </summary>
public sealed partial class ImageEngine
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
    }

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

    private TextWriter Progress => _options.Progress;

    private void Log(bool quiet, string line)
    {
        if (!quiet)
        {
            Progress.WriteLine(line);
            Progress.Flush();
        }
    }

    /// <summary>
    /// A client for <paramref name="host"/>: TLS verification from the flag, else from
    /// registries.conf; credentials from <c>--creds</c>, else auth.json by the image's repository key.
    /// </summary>
    internal RegistryClient CreateClient(string host, string authKey, RegistryAccess access, bool? insecure = null)
    {
        bool tlsVerify = access.TlsVerify ?? !(insecure ?? Registries.IsInsecure(host));
        RegistryCredential? credential;
        if (access.Credentials is { } creds)
        {
            credential = ParseCreds(creds);
        }
        else
        {
            try
            {
                credential = new AuthFile(_options.Environment, access.AuthFile).Find(authKey);
            }
            catch (InvalidDataException e)
            {
                throw new WharfException(e.Message, e);
            }
        }

        return new RegistryClient(host, new RegistryClientOptions
        {
            TlsVerify = tlsVerify,
            CertificateDirectory = CertificateDirectory(host, access.CertDir),
            Credential = credential,
            Transport = _options.Transport is { } t ? new NonDisposingHandler(t) : null,
            RetryDelay = _options.RetryDelay,
            Time = _options.Time,
        });
    }

    /// <summary>Worth a whole-blob retry: the connection dropped, or the registry failed on its side.</summary>
    internal static bool IsTransient(Exception e) =>
        e is HttpRequestException or IOException && e is not Content.ContentException
        || e is RegistryException { Status: >= System.Net.HttpStatusCode.InternalServerError };

    /// <summary>
    /// containers-certs.d(5): <c>--cert-dir</c>, else <c>HOST[:PORT]</c> under
    /// <c>~/.config/containers/certs.d</c> (non-root), <c>/etc/containers/certs.d</c>, <c>/etc/docker/certs.d</c>.
    /// </summary>
    internal string? CertificateDirectory(string host, string? certDir)
    {
        if (certDir is not null)
        {
            return certDir;
        }

        var roots = new List<string>();
        if (!Environment.IsRoot)
        {
            roots.Add(Path.Combine(Environment.ConfigHome, "containers", "certs.d"));
        }

        roots.Add(Path.Combine(Environment.SystemConfigDirectory, "certs.d"));
        roots.Add("/etc/docker/certs.d");
        return roots.Select(r => Path.Combine(r, host)).FirstOrDefault(Directory.Exists);
    }

    internal static RegistryCredential ParseCreds(string creds)
    {
        int colon = creds.IndexOf(':', StringComparison.Ordinal);
        if (creds.Length == 0 || colon == 0)
        {
            throw new WharfException("credentials must be of the form USERNAME[:PASSWORD]");
        }

        return colon < 0 ? new RegistryCredential(creds, string.Empty) : new RegistryCredential(creds[..colon], creds[(colon + 1)..]);
    }

    private sealed class NonDisposingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override void Dispose(bool disposing)
        {
            // The shared test transport outlives each client.
        }
    }
}

/// <summary>The flags every registry-touching verb shares.</summary>
public record RegistryAccess
{
    /// <summary><c>--tls-verify</c>; null when not given (registries.conf decides).</summary>
    public bool? TlsVerify { get; init; }

    public string? AuthFile { get; init; }

    /// <summary><c>--creds USERNAME[:PASSWORD]</c>.</summary>
    public string? Credentials { get; init; }

    /// <summary><c>--cert-dir</c>: CA certificates (<c>*.crt</c>) and a client certificate (<c>*.cert</c>/<c>*.key</c>).</summary>
    public string? CertDir { get; init; }
}
