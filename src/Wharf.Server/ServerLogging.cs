namespace Wharf.Server;

/// <summary>
/// How wharfd logs: one line per event on standard output (WHARF_LOG_FORMAT=json: one JSON object
/// per line, for log shippers). ASP.NET Core's per-request lines are off unless configured
/// (Logging:LogLevel:Microsoft.AspNetCore); <c>--access-log</c> is the per-request log. The first
/// start's admin password is written to standard output directly, so no log level hides it.
/// </summary>
internal static class ServerLogging
{
    private const string FrameworkCategory = "Microsoft.AspNetCore";

    public static StartupLogGate Configure(ILoggingBuilder logging, IConfiguration configuration)
    {
        logging.ClearProviders();
        if (string.Equals(Environment.GetEnvironmentVariable("WHARF_LOG_FORMAT"), "json", StringComparison.OrdinalIgnoreCase))
        {
            logging.AddJsonConsole(o =>
            {
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        else
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                o.UseUtcTimestamp = true;
            });
        }

        if (string.IsNullOrEmpty(configuration[$"Logging:LogLevel:{FrameworkCategory}"]))
        {
            logging.AddFilter(FrameworkCategory, LogLevel.Warning);
        }

        // A failed start (a port in use) is reported as one Error: line by the serve command; the
        // host and Kestrel would each add the same failure with its stack trace.
        var gate = new StartupLogGate();
        logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel", level => level >= LogLevel.Warning && (gate.IsOpen || level < LogLevel.Error));
        logging.AddFilter("Microsoft.Extensions.Hosting", level => level >= LogLevel.Information && (gate.IsOpen || level < LogLevel.Error));
        return gate;
    }
}

/// <summary>Holds back the host's startup failure logs until the server has started (or failed and said so).</summary>
internal sealed class StartupLogGate
{
    private volatile bool _open;

    public bool IsOpen => _open;

    public void Started() => _open = true;
}
