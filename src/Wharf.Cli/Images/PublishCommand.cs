using System.CommandLine;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary>
/// <c>wharf image publish IMAGE... [--store DIR]</c> and <c>wharf image unpublish IMAGE... [--store DIR]</c>:
/// copy an image of the user's store into a shared read-only store, or take it out again
/// (docs/shared-store.md). Without <c>--store</c>, the first <c>additionalimagestores</c> entry.
/// </summary>
public static class PublishCommand
{
    private static Option<string?> StoreOption() => new("--store") { Description = "The shared image store (default: the first additionalimagestores entry of storage.conf)" };

    public static Command Publish(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var images = new Argument<string[]>("IMAGE") { Arity = ArgumentArity.OneOrMore };
        var store = StoreOption();
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print only the image IDs" };
        var format = new Option<string>("--format") { Description = "How layers are kept: dir (unpacked directories) or squashfs (one squashfs file per layer, mounted by the nodes)", DefaultValueFactory = _ => PublishFormats.Dir };
        var command = new Command("publish", "Copy images into a shared read-only image store") { images, store, format, quiet };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            string layerFormat = PublishFormats.Parse(parse.GetValue(format));
            var engine = context.Engine(parse);
            foreach (string image in parse.GetRequiredValue(images))
            {
                var report = await engine.Local.PublishAsync(new PublishOptions(image, parse.GetValue(store), layerFormat), ct).ConfigureAwait(false);
                if (!parse.GetValue(quiet))
                {
                    await context.Err.WriteLineAsync($"Published {(report.Names.Count > 0 ? string.Join(", ", report.Names) : report.ImageId[..12])} to {report.Store}: copied {report.BlobsCopied} blob(s), {report.LayersCopied} layer(s){(report.Format == PublishFormats.Squashfs ? " as squashfs" : string.Empty)}").ConfigureAwait(false);
                }

                await context.Out.WriteLineAsync(report.ImageId).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }

    public static Command Unpublish(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var images = new Argument<string[]>("IMAGE") { Arity = ArgumentArity.OneOrMore };
        var store = StoreOption();
        var command = new Command("unpublish", "Remove images from a shared read-only image store") { images, store };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = context.Engine(parse);
            foreach (string image in parse.GetRequiredValue(images))
            {
                var report = await engine.Local.UnpublishAsync(new UnpublishOptions(image, parse.GetValue(store)), ct).ConfigureAwait(false);
                foreach (string name in report.Names)
                {
                    await context.Out.WriteLineAsync("Untagged: " + name).ConfigureAwait(false);
                }

                await context.Out.WriteLineAsync("Deleted: " + report.ImageId).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
