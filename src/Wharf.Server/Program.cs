using Wharf.Registry;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddWharfRegistry(builder.Configuration);
var app = builder.Build();
app.MapWharfRegistry();
app.Run();
