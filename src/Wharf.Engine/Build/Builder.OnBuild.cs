using System.Text.Json.Nodes;

namespace Wharf.Engine.Build;

public sealed partial class Builder
{
    /// <summary>
    /// The base image's ONBUILD triggers run first, in order, as if written right after FROM
    /// (Dockerfile reference); they are not passed on to the new image.
    /// </summary>
    private async Task OnBuildAsync(
        StageState state, Stage stage, IReadOnlyList<Stage> stages, Dictionary<int, string> results, Dictionary<string, string> globals,
        HashSet<string> consumed, string context, ContextIgnore ignore, string work, BuildOptions options, char escape, CancellationToken cancellationToken)
    {
        if (state.Run["OnBuild"] is not JsonArray { Count: > 0 } triggers)
        {
            return;
        }

        var texts = Strings(triggers);
        state.Run.Remove("OnBuild");
        foreach (string text in texts)
        {
            var parsed = Dockerfile.Parse("FROM scratch\n" + text + "\n").Instructions[1];
            if (parsed.Keyword is "ONBUILD" or "FROM" or "MAINTAINER")
            {
                throw new WharfException($"Dockerfile:{stage.From.Line}: {parsed.Keyword} isn't allowed as an ONBUILD trigger");
            }

            var trigger = parsed with { Line = stage.From.Line };
            Say(options, $"--> Running ONBUILD trigger: {trigger.Original}");
            await StepAsync(trigger, state, stage, stages, results, globals, consumed, context, ignore, work, options, escape, lastStep: false, cancellationToken).ConfigureAwait(false);
        }
    }
}
