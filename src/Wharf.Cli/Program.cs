namespace Wharf.Cli;

public static class Program
{
    public static Task<int> Main(string[] args) => WharfCli.InvokeAsync(args, CliIo.Console());
}
