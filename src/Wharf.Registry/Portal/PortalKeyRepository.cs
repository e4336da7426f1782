using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Wharf.Registry.Storage;

namespace Wharf.Registry.Portal;

/// <summary>
/// The portal's data-protection keys (they sign anti-forgery tokens) in <c>portal-keys/</c> of the data
/// directory, private like the token signing key (directory 0700, files 0600), so a form loaded before a
/// restart of wharfd still posts after it. Each key is written to a temporary name and renamed, so a
/// crash never leaves half a key.
/// </summary>
public sealed class PortalKeyRepository(string directory) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        if (!Directory.Exists(directory))
        {
            return [];
        }

        var elements = new List<XElement>();
        foreach (string file in Directory.EnumerateFiles(directory, "*.xml"))
        {
            using var stream = File.OpenRead(file);
            elements.Add(XElement.Load(stream));
        }

        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        ArgumentNullException.ThrowIfNull(element);
        PrivateFiles.CreateDirectory(directory);
        string name = string.Concat((friendlyName ?? "").Where(c => char.IsAsciiLetterOrDigit(c) || c == '-'));
        if (name.Length == 0)
        {
            name = Guid.NewGuid().ToString("N");
        }

        string target = Path.Combine(directory, name + ".xml");
        string temporary = target + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            using (var stream = new FileStream(temporary, PrivateFiles.Create(FileMode.CreateNew, FileAccess.Write)))
            {
                element.Save(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }
}
