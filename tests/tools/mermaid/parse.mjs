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
  console.log(JSON.stringify({
    type: parsed.diagramType,
    vertices: vertices instanceof Map ? vertices.size : Object.keys(vertices).length,
    edges: edges.length,
  }));
} catch (err) {
  console.error(String(err?.message ?? err));
  process.exit(1);
}
