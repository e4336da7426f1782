using Wharf.Client;
using Wharf.Engine.Jobs;

namespace Wharf.Engine.Tests.Jobs;

/// <summary>KUBE_SCRIPT_VARS split as the shell splits words; the user's passwd/group lines; the variables passed on.</summary>
public sealed class JobExecWordsTests
{
    [Theory]
    [InlineData("one two", new[] { "one", "two" })]
    [InlineData("  spaced\tout\n", new[] { "spaced", "out" })]
    [InlineData("\"two words\" x", new[] { "two words", "x" })]
    [InlineData("'a \"b\" $c'", new[] { "a \"b\" $c" })]
    [InlineData("\"a \\\"b\\\" \\$c \\d\"", new[] { "a \"b\" $c \\d" })]
    [InlineData("a\\ b c", new[] { "a b", "c" })]
    [InlineData("pre'mid dle'post", new[] { "premid dlepost" })]
    [InlineData("''", new[] { "" })]
    [InlineData("", new string[0])]
    public void SplitWords_ShellQuoting_GivesTheShellsWords(string text, string[] expected)
    {
        Assert.Equal(expected, JobExec.SplitWords(text, "KUBE_SCRIPT_VARS"));
    }

    [Theory]
    [InlineData("a 'b", "KUBE_SCRIPT_VARS: unterminated ' quote")]
    [InlineData("\"a", "KUBE_SCRIPT_VARS: unterminated \" quote")]
    public void SplitWords_UnterminatedQuote_RefusedNamingTheVariable(string text, string message)
    {
        var e = Assert.Throws<WharfException>(() => JobExec.SplitWords(text, "KUBE_SCRIPT_VARS"));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void SplitWords_AnyWordsQuotedForTheShell_SplitBackToThem()
    {
        // Bounded property: random words of awkward characters, each quoted as a shell would need,
        // joined by blanks, split back to the same words.
        var random = new Random(19);
        const string alphabet = "ab $'\"\\\t-=*";
        for (int round = 0; round < 500; round++)
        {
            var words = Enumerable.Range(0, random.Next(0, 5))
                .Select(_ => new string([.. Enumerable.Range(0, random.Next(0, 8)).Select(_ => alphabet[random.Next(alphabet.Length)])]))
                .ToList();
            string text = string.Join(' ', words.Select(w => "'" + w.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
            Assert.Equal(words, JobExec.SplitWords(text, "V"));
        }
    }

    [Fact]
    public void JobIdentity_UserInHostFiles_NameHomeAndGroupsFromThem()
    {
        string dir = Directory.CreateTempSubdirectory("wharf-ident-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "passwd"), "root:x:0:0:root:/root:/bin/bash\nalice:x:1500:1500:Alice:/home/alice:/bin/bash\n");
            File.WriteAllText(Path.Combine(dir, "group"), "root:x:0:\nalice:x:1500:\nbriefcase:x:2200:alice,bob\nother:x:2300:bob\n");
            var id = JobIdentity.For(1500, 2200, "/home/alice", _ => null, Path.Combine(dir, "passwd"), Path.Combine(dir, "group"));
            Assert.Equal("alice:*:1500:2200:alice:/home/alice:/bin/sh", id.PasswdEntry);
            Assert.Equal(["briefcase:x:2200:alice", "alice:x:1500:alice"], id.GroupEntries);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void JobIdentity_UserNotInHostFiles_NameFromUserVariable()
    {
        var id = JobIdentity.For(4242, 4242, "/h", v => v == "USER" ? "dir:ectory" : v == "LOGNAME" ? "bob" : null, "/nonexistent/passwd", "/nonexistent/group");
        Assert.Equal("bob:*:4242:4242:bob:/h:/bin/sh", id.PasswdEntry);
        Assert.Empty(id.GroupEntries);
    }

    [Fact]
    public void PassedVariables_StepEnvironment_SlurmKubeWharfPmiAndUserPassedOthersNot()
    {
        var host = new Dictionary<string, string>
        {
            ["SLURM_JOB_PARTITION"] = "gpu",
            ["SLURMD_NODENAME"] = "n1",
            ["KUBE_DATA_VOLUME"] = "/data/lab",
            ["WHARF_STOP_TIMEOUT"] = "3",
            ["PMIX_RANK"] = "1",
            ["PATH"] = "/usr/bin",
            ["SSH_AUTH_SOCK"] = "/tmp/agent",
            ["CUDA_VISIBLE_DEVICES"] = "3",
            ["LOGNAME"] = "carol",
        };
        var vars = JobExec.PassedVariables(host, "/home/carol", "carol", gpus: 2);
        Assert.Equal(
            ["HOME=/home/carol", "USER=carol", "LOGNAME=carol", "KUBE_DATA_VOLUME=/data/lab", "PMIX_RANK=1", "SLURMD_NODENAME=n1", "SLURM_JOB_PARTITION=gpu", "WHARF_STOP_TIMEOUT=3", "CUDA_VISIBLE_DEVICES=0,1"],
            vars);
    }

    [Fact]
    public void PmiDirectories_StepsPmixDirectories_ThoseThatExist()
    {
        string dir = Directory.CreateTempSubdirectory("wharf-pmix-").FullName;
        try
        {
            var host = new Dictionary<string, string>
            {
                ["PMIX_SERVER_TMPDIR"] = dir + "/",
                ["PMIX_SYSTEM_TMPDIR"] = dir,
                ["SLURM_PMIX_TMPDIR"] = "/nonexistent/pmix",
                ["PMIX_RANK"] = "0",
                ["TMPDIR"] = "/tmp",
            };
            Assert.Equal([dir], JobExec.PmiDirectories(host));
        }
        finally
        {
            Directory.Delete(dir);
        }
    }
}
