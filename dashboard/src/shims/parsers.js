// Stands in for codemirror-json-schema's parser table (dashboard/build.mjs swaps it in): the
// editor is JSON only, and that table also loads the YAML and JSON5 parsers into the bundle.
import { parseJSONDocumentState } from 'codemirror-json-schema';

export const getDefaultParser = () => parseJSONDocumentState;
