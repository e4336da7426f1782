namespace Wharf.Engine;

public sealed record SaveOptions(IReadOnlyList<string> Images, string Format, string? Path, Stream? Output, bool Quiet);

public sealed record LoadOptions(string? Path, Stream? Input, bool Quiet);

public sealed record LoadReport(IReadOnlyList<string> Names);

public sealed partial class ImageEngine
{
    public Task SaveAsync(SaveOptions options, CancellationToken cancellationToken) =>
        throw new WharfException("save is not supported yet");

    public Task<LoadReport> LoadAsync(LoadOptions options, CancellationToken cancellationToken) =>
        throw new WharfException("load is not supported yet");
}
