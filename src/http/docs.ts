// A readable page for /api/openapi.json, rendered in the browser from the
// document itself: no CDN, nothing fetched but our own JSON.
export const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>rim API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1f2328}
h1{font-size:1.6rem}h2{font-size:1.1rem;margin:1.6rem 0 .4rem;font-family:ui-monospace,monospace}
.m{display:inline-block;min-width:3.2rem;padding:0 .4rem;border-radius:4px;color:#fff;text-align:center;margin-right:.5rem}
.get{background:#1a7f37}.post{background:#0969da}
pre{background:#f6f8fa;padding:.6rem;border-radius:6px;overflow:auto;font-size:13px}
details{margin:.3rem 0}summary{cursor:pointer;color:#57606a}.pub{color:#9a6700;font-size:.85rem}
</style></head><body>
<h1>rim REST API</h1>
<p id="intro"></p>
<p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1) and <a href="/api/ws-schema.json">/api/ws-schema.json</a> (WebSocket frames).</p>
<main id="routes">Loading…</main>
<script>
fetch("/api/openapi.json").then(r=>r.json()).then(doc=>{
  document.getElementById("intro").textContent=doc.info.description;
  const main=document.getElementById("routes");main.textContent="";
  const block=(title,obj)=>{const d=document.createElement("details");const s=document.createElement("summary");s.textContent=title;const p=document.createElement("pre");p.textContent=JSON.stringify(obj,null,2);d.append(s,p);return d;};
  for(const [path,ops] of Object.entries(doc.paths)) for(const [method,op] of Object.entries(ops)){
    const sec=document.createElement("section");const h=document.createElement("h2");
    const m=document.createElement("span");m.className="m "+method;m.textContent=method.toUpperCase();
    h.append(m,document.createTextNode(path));sec.append(h);
    const p=document.createElement("p");p.textContent=op.summary;
    if(op.security&&op.security.length===0){const pub=document.createElement("span");pub.className="pub";pub.textContent=" (no token needed)";p.append(pub);}
    sec.append(p);
    if(op.parameters)sec.append(block("parameters",Object.fromEntries(op.parameters.map(x=>[(x.in==="path"?"{"+x.name+"}":x.name)+(x.required?"":"?"),x.schema]))));
    if(op.requestBody){const [type,c]=Object.entries(op.requestBody.content)[0];sec.append(block(type==="application/json"?"request body":"request body: "+(op.requestBody.description||type),c.schema));}
    const ok=op.responses[200].content,json=ok["application/json"];
    sec.append(json?block("reply data",json.schema.properties.data):block("reply: the file's bytes ("+Object.keys(ok).join(", ")+")",op.responses));
    main.append(sec);
  }
  // The shapes replies refer to ("$ref": "#/components/schemas/User").
  const shapes=Object.entries((doc.components&&doc.components.schemas)||{});
  if(shapes.length){const h=document.createElement("h2");h.textContent="Shapes";main.append(h);for(const [name,schema] of shapes)main.append(block(name,schema));}
});
</script></body></html>`;

/** The docs page's CSP: its one inline style and script, by hash, and our own JSON. */
export const DOCS_CSP = (() => {
  const hash = (tag: string) => {
    const body = DOCS_HTML.match(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`))![1]!;
    return `'sha256-${new Bun.CryptoHasher("sha256").update(body).digest("base64")}'`;
  };
  return `default-src 'none'; script-src ${hash("script")}; style-src ${hash("style")}; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
})();
