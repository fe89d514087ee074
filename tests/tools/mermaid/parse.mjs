// Parses a Mermaid diagram from standard input with the real Mermaid parser and prints, as JSON,
// its type and how many vertices and edges it has. Exit 1 with the parser's message on an error.
// Mermaid needs a DOM even to parse: jsdom provides one.
import { JSDOM } from 'jsdom';
import { readFileSync } from 'node:fs';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });

const text = readFileSync(0, 'utf8');
try {
  const parsed = await mermaid.parse(text);
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
  const vertices = diagram.db.getVertices();
  const edges = diagram.db.getEdges();
  // An edge to a subgraph (a server group) registers the subgraph's id as a vertex too: report
  // the ids, so a caller can tell machines from groups.
  const vertexIds = vertices instanceof Map ? [...vertices.keys()] : Object.keys(vertices);
  const subgraphIds = (diagram.db.getSubGraphs?.() ?? []).map((g) => g.id);
  console.log(JSON.stringify({
    type: parsed.diagramType,
    vertices: vertexIds.length,
    vertexIds,
    subgraphIds,
    edges: edges.length,
  }));
} catch (err) {
  console.error(String(err?.message ?? err));
  process.exit(1);
}
