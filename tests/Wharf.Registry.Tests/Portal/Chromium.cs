using System.Diagnostics;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace Wharf.Registry.Tests.Portal;

/// <summary>
/// Debian's chromium, headless, driven by its chromium-driver through Selenium, with nothing fetched from
/// the network (no Selenium Manager: both paths are given). When they are missing and the tests run as
/// root, they are installed with apt-get; otherwise the test fails saying so.
/// </summary>
public static class Chromium
{
    private const string Browser = "/usr/bin/chromium";
    private const string Driver = "/usr/bin/chromedriver";
    private static readonly SemaphoreSlim Install = new(1, 1);

    public static async Task<ChromeDriver> StartAsync()
    {
        await EnsureInstalledAsync();
        var options = new ChromeOptions { BinaryLocation = Browser };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900", "--no-first-run", "--disable-extensions");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(Driver)!, Path.GetFileName(Driver));
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        ChromeDriver driver;
        try
        {
            driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        }
        catch
        {
            // No session: stop the driver process the service started, or it outlives the test run.
            service.Dispose();
            throw;
        }

        // Quit stops it; should a test host die before that, chromedriver and its browsers go with it.
        Wharf.Testing.Daemons.Track("chromedriver", service.ProcessId);
        driver.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(30);
        return driver;
    }

    private static async Task EnsureInstalledAsync()
    {
        await Install.WaitAsync();
        try
        {
            if (File.Exists(Browser) && File.Exists(Driver))
            {
                return;
            }

            Assert.True(Environment.UserName == "root", $"{Browser} and {Driver} are missing; install chromium and chromium-driver (test.sh does when run as root)");
            var start = new ProcessStartInfo("apt-get", "install -y -q chromium chromium-driver") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0 && File.Exists(Driver), $"apt-get install chromium chromium-driver failed: {await stdout}{await stderr}");
        }
        finally
        {
            Install.Release();
        }
    }

    /// <summary>Saves what the browser showed under the test output (screenshots/NAME.png), for a failed test.</summary>
    public static string SaveScreenshot(IWebDriver driver, string name)
    {
        string directory = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, name + ".png");
        ((ITakesScreenshot)driver).GetScreenshot().SaveAsFile(path);
        return path;
    }
}
