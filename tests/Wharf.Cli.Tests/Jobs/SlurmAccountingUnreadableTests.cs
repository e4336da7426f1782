using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests.Jobs;

/// <summary>
/// A Slurm job the controller has forgotten while sacct cannot be read (accounting storage
/// disabled, the job-completion log not readable by the user): wharf's job says unknown with
/// sacct's error, instead of queued for ever. sbatch, squeue, scontrol and sacct are small scripts
/// first on wharf's PATH, answering with the words and exit codes the real tools give here.
/// </summary>
[Collection("containers")]
public sealed class SlurmAccountingUnreadableTests : IDisposable
{
    private const string Denied = "sacct: fatal: open /var/log/slurm/jobcomp.log: Permission denied";

    private readonly ContainerFixture _images;
    private readonly WharfProcess _wharf;
    private readonly string _bin;

    public SlurmAccountingUnreadableTests(ContainerFixture images)
    {
        _images = images;
        _wharf = JobHelpers.Pulled(images);
        _bin = Path.Combine(_wharf.Dir, "fake-slurm");
        Directory.CreateDirectory(_bin);
        Script("sbatch", "echo 4242");
        Script("squeue", "echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1");
        Script("scontrol", "exit 0");
        Script("sacct", $"case \" $* \" in *' -c '*) echo '{Denied}' >&2; exit 1;; esac\necho 'Slurm accounting storage is disabled' >&2; exit 1");
        _wharf.Env["PATH"] = _bin + ":" + Environment.GetEnvironmentVariable("PATH");
    }

    public void Dispose() => _wharf.Dispose();

    private void Script(string name, string body)
    {
        string path = Path.Combine(_bin, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    [Fact]
    public void Status_ForgottenBySlurmAndSacctFails_UnknownWithSacctsErrorThenRecovers()
    {
        string id = JobHelpers.Submit(_wharf, _images.Image, "--executor", "slurm", "--", "true");

        var job = JobHelpers.Status(_wharf, id);

        Assert.Equal("unknown", (string?)job["state"]);
        Assert.Equal(
            $"squeue and scontrol no longer list Slurm job 4242, and sacct failed: Slurm accounting storage is disabled; {Denied}",
            (string?)job["message"]);
        Assert.Contains("Message:    squeue and scontrol no longer list Slurm job 4242, and sacct failed: ", _wharf.Check("job", "status", id), StringComparison.Ordinal);
        Assert.Matches($@"(?m)^{id}\s+\S+\s+\S+\s+unknown\s", _wharf.Check("job", "ls"));

        // Once the completion log is readable, the next look takes Slurm's answer.
        Script("sacct", "case \" $* \" in *' -c '*) echo '4242|COMPLETED|0:0|2026-03-01T12:00:00|2026-03-01T12:00:05|node1'; exit 0;; esac\nexit 1");
        job = JobHelpers.Status(_wharf, id);
        Assert.Equal("completed", (string?)job["state"]);
        Assert.Equal(0, (int?)job["exitCode"]);
        Assert.Null(job["message"]);
    }
}
