using System.Text;

namespace Wharf.Cli.Jobs;

/// <summary>A writer that drops what it cannot write (a closed pipe) instead of throwing.</summary>
internal sealed class ForgivingWriter(TextWriter inner) : TextWriter
{
    public override Encoding Encoding => inner.Encoding;

    public override void Write(char value)
    {
        try
        {
            inner.Write(value);
        }
        catch (IOException)
        {
        }
    }

    public override void Write(string? value)
    {
        try
        {
            inner.Write(value);
        }
        catch (IOException)
        {
        }
    }

    public override void WriteLine(string? value)
    {
        try
        {
            inner.WriteLine(value);
        }
        catch (IOException)
        {
        }
    }

    public override void Flush()
    {
        try
        {
            inner.Flush();
        }
        catch (IOException)
        {
        }
    }

    public override Task WriteLineAsync(string? value)
    {
        WriteLine(value);
        return Task.CompletedTask;
    }
}
