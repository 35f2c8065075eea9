// Stands in for codemirror-json-schema's markdown renderer (dashboard/build.mjs swaps it in):
// that one brings markdown-it and the shiki highlighter (with a WebAssembly regex engine) into
// the bundle, several times the size of the rest of the editor, for the schema's descriptions.
// Here the text is shown as it is, escaped (the result becomes innerHTML), `code` kept as code.
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderMarkdown(text) {
  return escape(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}
