using System.Text.Json.Nodes;
using Wharf.Cli.Output;

namespace Wharf.Cli.Tests.Output;

/// <summary>The Go template subset --format takes; expected outputs are what podman 4.3 prints for the same template.</summary>
public class GoTemplateTests
{
    private static readonly JsonObject Data = JsonNode.Parse("""
        {"Id":"0123456789abcdef","Name":"web","State":{"Status":"running","Running":true,"Pid":42},
         "Config":{"Labels":{"x":"y","a":"1"},"Cmd":["sh","-c","true"],"Env":[]},"Mounts":[],"Size":0}
        """)!.AsObject();

    [Theory]
    [InlineData("{{.Id}}", "0123456789abcdef")]
    [InlineData("{{.ID}}", "0123456789abcdef")]
    [InlineData("{{.State.Status}} {{.State.Running}} {{.State.Pid}}", "running true 42")]
    [InlineData("{{.Config.Labels}}", "map[a:1 x:y]")]
    [InlineData("{{.Config.Labels.x}}|{{.Config.Labels.nosuch}}", "y|<no value>")]
    [InlineData("{{json .Config.Labels}}", "{\"x\":\"y\",\"a\":\"1\"}")]
    [InlineData("{{index .Config.Labels \"x\"}}", "y")]
    [InlineData("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "a=1;x=y;")]
    [InlineData("{{range .Config.Cmd}}[{{.}}]{{end}}", "[sh][-c][true]")]
    [InlineData("{{range .Config.Env}}x{{else}}none{{end}}", "none")]
    [InlineData("{{len .Config.Cmd}} {{len .Name}}", "3 3")]
    [InlineData("{{join .Config.Cmd \",\"}}", "sh,-c,true")]
    [InlineData("{{upper .Name}} {{lower \"AbC\"}} {{title .State.Status}}", "WEB abc Running")]
    [InlineData("{{truncate .Id 5}}|{{truncate .Name 10}}", "01234|web")]
    [InlineData("{{.Name | upper}}", "WEB")]
    [InlineData("{{if .State.Running}}up{{else}}down{{end}}", "up")]
    [InlineData("{{if eq .State.Status \"exited\"}}x{{else if eq .State.Status \"running\"}}r{{end}}", "r")]
    [InlineData("{{if not .Mounts}}no mounts{{end}}", "no mounts")]
    [InlineData("{{with .Config}}{{.Cmd}}{{end}}", "[sh -c true]")]
    [InlineData("{{printf \"%s-%d\" .Name .State.Pid}}", "web-42")]
    [InlineData("{{- .Name -}}  ", "web")]
    [InlineData("{{index .Config.Cmd 1}}", "-c")]
    [InlineData("{{.Size}}", "0")]
    public void Render_JsonData_AsGoTextTemplate(string template, string expected)
    {
        Assert.Equal(expected, new GoTemplate(template).Render(Data));
    }

    [Theory]
    [InlineData("{{.Nope}}")]
    [InlineData("{{.Name")]
    [InlineData("{{if .Name}}x")]
    [InlineData("{{nosuchfunc .Name}}")]
    [InlineData("{{upper}}")]
    public void Render_BadTemplate_FailsWithTemplateError(string template)
    {
        var e = Assert.Throws<FormatException>(() => new GoTemplate(template).Render(Data));
        Assert.StartsWith("template: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Header_TableDirective_PodmansHeadersAndFunctionsApply()
    {
        var t = new GoTemplate("table {{.ID}}\\t{{.CreatedAt}}\\t{{.ImageID}}\\t{{.Names | upper}}");

        Assert.True(t.IsTable);
        Assert.Equal("ID\tCREATED AT\tIMAGE ID\tNAMES", t.Header());
        Assert.Equal("CONTAINER ID\tCREATED AT\tIMAGE ID\tNAMES", t.Header(f => f == "ID" ? "CONTAINER ID" : GoTemplate.ToHeader(f)));
    }

    [Fact]
    public void Render_Lookup_FieldsFromTheCommandAndFunctionsOnThem()
    {
        var t = new GoTemplate("{{.Names}} {{upper .Image}} {{json .Names}} {{join .Mounts \",\"}}");
        string line = t.Render((field, asJson) => field switch
        {
            "Names" => asJson ? "[\"web\"]" : "web",
            "Image" => "bb",
            "Mounts" => "[/a /b]",
            _ => null,
        });

        Assert.Equal("web BB [\"web\"] /a,/b", line);
    }
}
