using Wharf.Engine.Containers;

namespace Wharf.Engine.Tests.Containers;

public sealed class MountAndPortOptionTests
{
    [Fact]
    public void ParseMount_PodmansKeys_Read()
    {
        var m = MountOption.Parse("type=bind,source=/srv,target=/x,readonly=true,bind-propagation=rslave");

        Assert.Equal(("bind", "/srv", "/x", true, "rslave"), (m.Type, m.Source, m.Destination, m.ReadOnly, m.Propagation));
        Assert.Equal("/t:rw,nosuid,nodev,size=1m,mode=700", MountOption.Parse("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=700").TmpfsSpec());
        Assert.False(MountOption.Parse("type=volume,src=v,dst=/v,ro=false").ReadOnly);
    }

    [Theory]
    [InlineData("src=/a,dst=/x", "incorrect mount format")]
    [InlineData("type=bind,src=/a", "must set volume destination")]
    [InlineData("type=bind,src=/a,dst=/x,foo=1", "foo: invalid mount option")]
    [InlineData("type=nfs,dst=/x", "invalid filesystem type \"nfs\"")]
    [InlineData("type=bind,src=/a,dst=x", "invalid container path \"x\"")]
    [InlineData("type=bind,src=/a,dst=/x,bind-propagation=sideways", "invalid mount option bind-propagation=sideways")]
    public void ParseMount_Bad_Refused(string value, string message)
    {
        var e = Assert.Throws<WharfException>(() => MountOption.Parse(value));

        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("8080:80", "", 8080, 80, "tcp")]
    [InlineData("127.0.0.1:8080:80/udp", "127.0.0.1", 8080, 80, "udp")]
    [InlineData("[::1]:8080:80", "::1", 8080, 80, "tcp")]
    public void ParsePort_PodmansForms_Read(string value, string ip, int host, int container, string protocol)
    {
        Assert.Equal(new PortMapping(ip, host, container, protocol), PortMapping.Parse(value));
    }

    [Fact]
    public void ParsePort_NoHostPort_AFreeOne()
    {
        var p = PortMapping.Parse("80");

        Assert.InRange(p.HostPort, 1, 65535);
        Assert.Equal("80/tcp -> 0.0.0.0:" + p.HostPort, p.ToString());
    }

    [Theory]
    [InlineData("8080:80/sctp")]
    [InlineData("0:80")]
    [InlineData("8080-8081:80-81")]
    [InlineData("nothost:8080:80")]
    [InlineData("1:2:3:4")]
    public void ParsePort_Bad_Refused(string value)
    {
        Assert.Throws<WharfException>(() => PortMapping.Parse(value));
    }

    /// <summary>Bounded fuzz: any text built from the parsers' own characters is read or refused with a WharfException, nothing else.</summary>
    [Fact]
    public void Parse_RandomText_ReturnsOrThrowsWharfException()
    {
        const string Alphabet = "type=bindvolumetmpfs,src/dst:ro1280-.[]udp ";
        var random = new Random(17);
        for (int i = 0; i < 3000; i++)
        {
            string text = new([.. Enumerable.Range(0, random.Next(0, 40)).Select(_ => Alphabet[random.Next(Alphabet.Length)])]);
            foreach (Action parse in new Action[]
            {
                () => MountOption.Parse(text),
                () => PortMapping.Parse(text),
                () => ResourceLimits.Parse(new ResourceRequest { Memory = text, Cpus = text.Length % 2 == 0 ? null : text }),
            })
            {
                try
                {
                    parse();
                }
                catch (WharfException)
                {
                }
            }
        }
    }
}
