using Wharf.Server;

// wharfd: the registry host. The command line (serve, gc, fsck and their flags) is in WharfdCommand.
return await WharfdCommand.InvokeAsync(args, Console.Out, Console.Error).ConfigureAwait(false);
