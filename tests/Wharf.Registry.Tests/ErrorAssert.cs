using System.Net;
using System.Text.Json;

namespace Wharf.Registry.Tests;

public static class ErrorAssert
{
    /// <summary>Asserts the status and that the body is the spec's error JSON with this code.</summary>
    public static async Task HasErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        using var doc = JsonDocument.Parse(body);
        var errors = doc.RootElement.GetProperty("errors");
        Assert.Equal(code, errors[0].GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(errors[0].GetProperty("message").GetString()));
    }

    public static async Task<string> DetailAsync(HttpResponseMessage response)
    {
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("errors")[0].TryGetProperty("detail", out var d) ? d.GetString() ?? "" : "";
    }
}
