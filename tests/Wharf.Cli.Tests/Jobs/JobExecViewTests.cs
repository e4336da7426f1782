using System.Globalization;
using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests.Jobs;

/// <summary>
/// The job's view of itself inside the container <c>job exec</c> runs (real runc): the step's
/// variables, a name for the user, GPUs numbered from 0, the script's arguments, the working directory.
/// </summary>
[Collection("containers")]
public sealed class JobExecViewTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = JobHelpers.Pulled(fixture);

    public void Dispose() => _wharf.Dispose();

    [Fact]
    public void Exec_StepVariables_AllSlurmKubeWharfAndUserVariablesReachTheContainer()
    {
        var step = new Dictionary<string, string>
        {
            ["SLURM_JOB_PARTITION"] = "debug",
            ["SLURM_JOB_NUM_NODES"] = "1",
            ["SLURM_JOB_CPUS_PER_NODE"] = "2",
            ["SLURM_JOB_USER"] = "alice",
            ["SLURM_ARRAY_JOB_ID"] = "41",
            ["SLURM_LOCALID"] = "0",
            ["SLURM_NODEID"] = "0",
            ["SLURM_STEP_NUM_TASKS"] = "1",
            ["SLURMD_NODENAME"] = "node7",
            ["USER"] = "alice",
            ["LOGNAME"] = "alice",
            ["KUBE_JOB_NAME"] = "slurm-job-41-node7",
            ["WHARF_SITE_MOUNTS"] = "/nonexistent-site",
        };
        foreach (var (k, v) in step)
        {
            _wharf.Env[k] = v;
        }

        string home = Path.Combine(_wharf.Dir, "home");
        Directory.CreateDirectory(home);
        _wharf.Env["HOME"] = home;
        string env = _wharf.Check("job", "exec", "--tls-verify=false", "--image", fixture.Image, "--", "env");
        var inside = env.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        foreach (var (k, v) in step)
        {
            Assert.True(inside.Contains(k + "=" + v), $"{k}={v} missing; inside:\n{env}");
        }

        Assert.Contains("HOME=" + home, inside);
    }

    [Fact]
    public void Exec_DefaultWorkdir_IsHomeAndWorkdirChoosesAnother()
    {
        string home = Path.Combine(_wharf.Dir, "home");
        string submit = Path.Combine(_wharf.Dir, "submit");
        Directory.CreateDirectory(home);
        Directory.CreateDirectory(submit);
        _wharf.Env["HOME"] = home;
        _wharf.Env["SLURM_SUBMIT_DIR"] = submit;
        Assert.Equal(home + "\n", _wharf.Check("job", "exec", "--tls-verify=false", "--image", fixture.Image, "--", "pwd"));
        Assert.Equal(submit + "\n", _wharf.Check("job", "exec", "--tls-verify=false", "--image", fixture.Image, "--workdir", submit, "--", "pwd"));
    }

    [Fact]
    public void Exec_KubeScriptVars_SplitLikeTheShell()
    {
        string dir = Path.Combine(_wharf.Dir, "scripts");
        Directory.CreateDirectory(dir);
        string script = Path.Combine(dir, "args.sh");
        File.WriteAllText(script, "#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\"; done\n");
        File.SetUnixFileMode(script, (UnixFileMode)Convert.ToInt32("755", 8));
        _wharf.Env["KUBE_IMAGE"] = fixture.Image;
        _wharf.Env["KUBE_SCRIPT"] = script;
        _wharf.Env["KUBE_SCRIPT_VARS"] = "--lr 0.1 \"two words\" 'it''s $HOME' a\\ b";
        _wharf.Env["HOME"] = dir;
        var (code, stdout, stderr) = _wharf.Run("job", "exec", "--tls-verify=false");
        Assert.True(code == 0, stderr);
        Assert.Equal("[--lr]\n[0.1]\n[two words]\n[its $HOME]\n[a b]\n", stdout);
    }

    [Fact]
    public void Exec_KubeScriptVarsUnterminatedQuote_Exits125NamingTheVariable()
    {
        _wharf.Env["KUBE_SCRIPT"] = "/bin/true";
        _wharf.Env["KUBE_SCRIPT_VARS"] = "a 'b";
        var (code, _, stderr) = _wharf.Run("job", "exec", "--tls-verify=false", "--image", fixture.Image);
        Assert.Equal(125, code);
        Assert.Equal("Error: KUBE_SCRIPT_VARS: unterminated ' quote\n", stderr);
        Assert.Empty(_wharf.ContainerDirs);
    }

    [Fact]
    public void Exec_JobHoldsGpu1_OnlyNvidia1InsideAndCudaNumbersFromZero()
    {
        // Fake GPUs: character devices of the host under the names a driver's CDI spec gives them.
        string cdi = Path.Combine(_wharf.Dir, "cdi");
        Directory.CreateDirectory(cdi);
        File.WriteAllText(Path.Combine(cdi, "nvidia.yaml"), """
            cdiVersion: "0.5.0"
            kind: nvidia.com/gpu
            devices:
              - name: "0"
                containerEdits:
                  deviceNodes:
                    - path: /dev/nvidia0
                      hostPath: /dev/null
              - name: "1"
                containerEdits:
                  deviceNodes:
                    - path: /dev/nvidia1
                      hostPath: /dev/zero
            """);
        _wharf.Env["WHARF_CDI_SPEC_DIRS"] = cdi;
        _wharf.Env["SLURM_JOB_GPUS"] = "1";
        _wharf.Env["CUDA_VISIBLE_DEVICES"] = "1";
        string output = _wharf.Check("job", "exec", "--tls-verify=false", "--image", fixture.Image, "--", "sh", "-c",
            "test -e /dev/nvidia0 || echo no-nvidia0; test -c /dev/nvidia1 && echo nvidia1; echo cuda=$CUDA_VISIBLE_DEVICES; echo job-gpus=$SLURM_JOB_GPUS");
        Assert.Equal("no-nvidia0\nnvidia1\ncuda=0\njob-gpus=1\n", output);
    }

    [Fact]
    public void Exec_AsUnprivilegedUser_UserAndGroupHaveNamesInside()
    {
        using var user = new Rootless.RootlessUser.Session(Rootless.RootlessUser.WithRanges);
        string hostGroup = Tools.Check("id", "-gn", user.Name).Trim();
        var (code, stdout, stderr) = user.Run("job", "exec", "--tls-verify=false", "--image", fixture.Image, "--", "sh", "-c",
            "whoami; id -un; id -gn; grep \"^$(id -un):\" /etc/passwd | cut -d: -f3,6; pwd");
        Assert.True(code == 0, $"exit {code}: {stderr}");

        // The test image names GIDs 0, 44 and 1000 itself; the user's own group is named from the host.
        string expectedGroup = user.Gid switch { 0 => "root", 44 => "video", 1000 => "job", _ => hostGroup };
        string expectedName = user.Uid == 1000 ? "job" : user.Name;
        string expectedHome = user.Uid == 1000 ? "/home/job" : user.Home;
        Assert.Equal($"{expectedName}\n{expectedName}\n{expectedGroup}\n{user.Uid.ToString(CultureInfo.InvariantCulture)}:{expectedHome}\n{user.Home}\n", stdout);
    }
}
