// Content-addressed store interfaces and the copy engine live here.
namespace Wharf.Content;
