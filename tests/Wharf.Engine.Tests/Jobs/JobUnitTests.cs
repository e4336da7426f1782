using Wharf.Client;
using Wharf.Engine.Jobs;

namespace Wharf.Engine.Tests.Jobs;

public sealed class JobUnitTests
{
    [Theory]
    [InlineData("COMPLETED", "0:0", "completed", 0)]
    [InlineData("FAILED", "4:0", "failed", 4)]
    [InlineData("CANCELLED by 0", "0:15", "cancelled", 143)]
    [InlineData("CANCELLED by 1001", "0:0", "cancelled", 143)]
    [InlineData("CANCELLED", "9:0", "cancelled", 9)]
    [InlineData("TIMEOUT", "0:0", "timeout", 0)]
    [InlineData("TIMEOUT", "143:0", "timeout", 143)]
    [InlineData("OUT_OF_MEMORY", "0:125", "failed", 253)]
    public void Parse_SlurmFinalStateAndExitCode_MapsToJobStateAndCode(string state, string exit, string expected, int code)
    {
        var (s, c) = SlurmExecutor.Parse(state, exit);
        Assert.Equal(expected, s);
        Assert.Equal(code, c);
    }

    [Fact]
    public void Parse_UnknownState_IsNull()
    {
        Assert.Equal((null, null), SlurmExecutor.Parse("WEIRD", null));
    }

    [Fact]
    public void Script_Resources_BecomeSbatchLinesAndOneSrunStep()
    {
        var job = new JobRecord
        {
            Id = "5",
            Spec = new JobSpec
            {
                Image = "reg:5000/lab/tool:1",
                Command = ["sh", "-c", "echo it's $HOME"],
                Name = "fit",
                Cpus = 2,
                Memory = "16G",
                Gpus = 1,
                Time = "00:10:00",
                Partition = "short",
                Env = ["A=b c"],
                Executor = "slurm",
                TlsVerify = false,
            },
            LogPath = "/logs/out.5",
            ErrorPath = "/logs/err.5",
        };
        string script = SlurmExecutor.Script(job, ["/opt/wharf/wharf", "--root", "/g"]);
        Assert.StartsWith("#!/bin/sh\n", script, StringComparison.Ordinal);
        foreach (string line in new[] { "#SBATCH --job-name=fit", "#SBATCH --cpus-per-task=2", "#SBATCH --mem=16G", "#SBATCH --gpus=1", "#SBATCH --time=00:10:00", "#SBATCH --partition=short", "#SBATCH --output=/logs/out.5", "#SBATCH --error=/logs/err.5", "export WHARF_IMAGE=reg:5000/lab/tool:1" })
        {
            Assert.Contains(line + "\n", script, StringComparison.Ordinal);
        }

        Assert.Contains("exec srun /opt/wharf/wharf --root /g job exec --tls-verify=false -e 'A=b c' -- sh -c 'echo it'\\''s $HOME'\n", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Script_NoResources_NoSbatchLinesForThem()
    {
        var job = new JobRecord { Id = "1", Spec = new JobSpec { Image = "i", Command = ["true"] }, LogPath = "/l" };
        string script = SlurmExecutor.Script(job, ["wharf"]);
        Assert.DoesNotContain("--cpus-per-task", script, StringComparison.Ordinal);
        Assert.DoesNotContain("--error", script, StringComparison.Ordinal);
        Assert.Contains("#SBATCH --job-name=job-1\n", script, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0,2", null, "nvidia.com/gpu=0 nvidia.com/gpu=2")]
    [InlineData(null, "1", "nvidia.com/gpu=1")]
    [InlineData(null, null, "")]
    [InlineData(null, "NoDevFiles", "")]
    public void GpuDevices_SlurmOrCudaVariables_BecomeCdiNames(string? slurm, string? cuda, string expected)
    {
        var vars = new Dictionary<string, string?> { ["SLURM_JOB_GPUS"] = slurm, ["CUDA_VISIBLE_DEVICES"] = cuda };
        var env = new HostEnvironment(n => vars.GetValueOrDefault(n), "/home/u", 1000);
        Assert.Equal(expected, string.Join(' ', JobExec.GpuDevices(env)));
    }

    [Fact]
    public void Setting_KubeNames_AcceptedWhenWharfNamesMissing()
    {
        var vars = new Dictionary<string, string?> { ["KUBE_IMAGE"] = "old", ["WHARF_SCRIPT"] = "/new.sh", ["KUBE_SCRIPT"] = "/old.sh" };
        var env = new HostEnvironment(n => vars.GetValueOrDefault(n), "/home/u", 1000);
        Assert.Equal("old", JobExec.Setting(env, "IMAGE"));
        Assert.Equal("/new.sh", JobExec.Setting(env, "SCRIPT"));
        Assert.Null(JobExec.Setting(env, "DATA_VOLUME"));
    }

    [Fact]
    public void Store_WriteAndList_SequentialIdsInSubmissionOrder()
    {
        string root = Directory.CreateTempSubdirectory("wharf-jobstore-").FullName;
        try
        {
            var store = new JobStore(root);
            var first = store.Locked(() => store.NextId());
            var second = store.Locked(() => store.NextId());
            Assert.Equal(("1", "2"), (first, second));
            var t = DateTimeOffset.UtcNow;
            store.Write(new JobRecord { Id = second, Spec = new JobSpec { Image = "b" }, LogPath = "/l2", Submitted = t });
            store.Write(new JobRecord { Id = first, Spec = new JobSpec { Image = "a" }, LogPath = "/l1", Submitted = t.AddSeconds(-1) });
            Assert.Equal(["1", "2"], store.List().Select(j => j.Id));
            Assert.Empty(Directory.GetFiles(store.Dir(first), "*.tmp*"));
            Assert.Throws<WharfException>(() => store.Read("3"));
            Assert.Null(store.TryRead("../x"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
