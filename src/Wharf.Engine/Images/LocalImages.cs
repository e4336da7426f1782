namespace Wharf.Engine;

/// <summary>
/// The local side of the image engine: the verbs that work on the store alone — look up, tag,
/// untag, rm, prune, images, inspect, history, save, load, import, publish to a shared store,
/// the collection of unused layers, system df/reset/check/info — one file per verb or verb
/// family under Images/, System/ and Storage/. Nothing here opens a network connection.
/// </summary>
public sealed partial class LocalImages : ImageEnginePart
{
    internal LocalImages(ImageEngine engine)
        : base(engine)
    {
    }
}
