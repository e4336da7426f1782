namespace Wharf.Engine.Build;

internal sealed partial class BuildSession
{
    /// <summary>
    /// The base image's ONBUILD triggers run first, in order, as if written right after FROM
    /// (Dockerfile reference); they are not passed on to the new image.
    /// </summary>
    private async Task OnBuildAsync(StageState state, Stage stage, CancellationToken cancellationToken)
    {
        if (state.Run.OnBuild is not { Count: > 0 } triggers)
        {
            return;
        }

        state.Run = state.Run with { OnBuild = null };
        foreach (string text in triggers)
        {
            var parsed = Dockerfile.Parse("FROM scratch\n" + text + "\n").Instructions[1];
            if (parsed.Keyword is "ONBUILD" or "FROM" or "MAINTAINER")
            {
                throw new WharfException($"Dockerfile:{stage.From.Line}: {parsed.Keyword} isn't allowed as an ONBUILD trigger");
            }

            var trigger = parsed with { Line = stage.From.Line };
            Say($"--> Running ONBUILD trigger: {trigger.Original}");
            await StepAsync(trigger, state, stage, cancellationToken).ConfigureAwait(false);
        }
    }
}
