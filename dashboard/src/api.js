// Same-origin calls to the management API with the admin token kept in sessionStorage.
import { parse as parseExact, stringify as stringifyExact } from 'lossless-json';

const KEY = 'tripline.adminToken';

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

/** A workflow's unsaved editor text, kept in this tab (sessionStorage) until it is saved or
 * discarded: when the token is refused meanwhile, signing in again brings it back. Kept with it:
 * the revision (`ETag`) of the saved draft it started from (`base`), so a draft saved elsewhere
 * meanwhile is noticed.
 * `get` answers `{ text, base }` or null (`base` null: not known). */
const UNSAVED = 'tripline.unsaved.';
export const unsaved = {
  get: (id) => {
    const raw = sessionStorage.getItem(UNSAVED + id);
    if (raw === null) return null;
    try {
      const kept = JSON.parse(raw);
      if (kept && typeof kept.text === 'string' && (typeof kept.base === 'string' || kept.base === null)) return kept;
    } catch { /* kept as text alone */ }
    return { text: raw, base: null };
  },
  set: (id, text, base) => {
    try { sessionStorage.setItem(UNSAVED + id, JSON.stringify({ text, base })); } catch { /* storage full: the text stays in the editor only */ }
  },
  clear: (id) => sessionStorage.removeItem(UNSAVED + id),
  clearAll: () => {
    for (const k of Object.keys(sessionStorage)) if (k.startsWith(UNSAVED)) sessionStorage.removeItem(k);
  },
};

/** An answer that was not 2xx, described in words (from its problem+json when it has one). */
export class ApiError extends Error {
  constructor(status, problem, fallback) {
    const title = (problem && problem.title) || fallback || `HTTP ${status}`;
    const detail = problem && problem.detail;
    super(detail ? `${title}: ${detail}` : title);
    this.status = status;
    this.title = title;
    this.detail = detail || '';
    this.errors = (problem && Array.isArray(problem.errors)) ? problem.errors : [];
  }
}

/** How long a read (GET) may take before it is given up: a live page then tries again at its
 * next refresh instead of waiting forever on a request that stalled. Writes are never cut
 * short (their outcome would be unknown). */
export const READ_TIMEOUT_MS = 15000;

/** A request body sent as the given text, byte for byte (an editor's text), instead of the
 * JSON of a value: the server then reads what was typed, duplicate keys and large numbers
 * included, and says what is wrong with it. */
export class JsonText {
  constructor(text) { this.text = text; }
}

/** The text of each answer, by its parsed value: see [`exactPretty`]. */
const answerText = new WeakMap();
/** Each answer's text parsed keeping its numbers exact, once (a run's page shows many parts). */
const answerExact = new WeakMap();

function exactText(answer, indent, path) {
  const at = (v) => path.reduce((o, k) => (o === null || typeof o !== 'object' ? undefined : o[k]), v);
  const loose = () => {
    const v = at(answer);
    return v === undefined ? undefined : JSON.stringify(v, null, indent);
  };
  const text = answer && answerText.get(answer);
  if (text === undefined) return loose();
  try {
    if (!answerExact.has(answer)) answerExact.set(answer, parseExact(text));
    const value = at(answerExact.get(answer));
    return value === undefined ? undefined : stringifyExact(value, null, indent);
  } catch {
    return loose();
  }
}

/** The member of an answer at `path` as indented JSON text, its numbers exactly as the server
 * sent them (`JSON.parse` turns an id like 1234567890123456789 into …800, and a save of the
 * shown text would store that). `undefined` when the answer has no such member. */
export function exactPretty(answer, ...path) {
  return exactText(answer, 2, path);
}

/** [`exactPretty`] on one line (a poll's cursor). */
export function exactCompact(answer, ...path) {
  return exactText(answer, undefined, path);
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(f) { onUnauthorized = f; }

/** Each answer's `ETag` (a workflow's: the revision of its saved draft), by its parsed value. */
const answerTag = new WeakMap();

/** The `ETag` an answer came with, or null: sent back as `If-Match` (see [`apiIfMatch`]). */
export function etagOf(answer) {
  return (answer && typeof answer === 'object' && answerTag.get(answer)) || null;
}

/** A tag without its weak mark (`W/`): the platform weakens the `ETag` of an answer it
 * compresses, and the server takes both forms as the same revision. */
export function strongTag(tag) {
  return typeof tag === 'string' ? tag.replace(/^W\//, '') : tag;
}

/** Calls `path` with the stored token (or `withToken`); resolves to the parsed JSON body. */
export function api(method, path, body, withToken, readTimeoutMs = READ_TIMEOUT_MS) {
  return call(method, path, body, withToken, readTimeoutMs, {});
}

/** [`api`] with `If-Match: tag` (none when `tag` is null): a save or deploy of the draft
 * that was read, which the server refuses with 412 once it was saved again elsewhere. */
export function apiIfMatch(method, path, body, tag) {
  return call(method, path, body, undefined, READ_TIMEOUT_MS, tag ? { 'if-match': tag } : {});
}

/** [`api`] with more request headers (`Idempotency-Key`). */
export function apiWith(method, path, body, headers) {
  return call(method, path, body, undefined, READ_TIMEOUT_MS, headers);
}

async function call(method, path, body, withToken, readTimeoutMs, extra) {
  const t = withToken ?? token.get();
  const headers = { accept: 'application/json', ...extra };
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const signal = method === 'GET' ? AbortSignal.timeout(readTimeoutMs) : undefined;
  const unreachable = (e) => new ApiError(0, null, e && e.name === 'TimeoutError'
    ? `Tripline did not answer within ${readTimeoutMs / 1000} s`
    : `Tripline could not be reached (${(e && e.message) || e}); check that the Worker is running`);
  let resp;
  let text;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : body instanceof JsonText ? body.text : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal,
    });
    text = await resp.text();
  } catch (e) {
    throw unreachable(e);
  }
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
    if (data !== null && typeof data === 'object') {
      answerText.set(data, text);
      const tag = resp.headers.get('etag');
      if (tag) answerTag.set(data, tag);
    }
  }
  if (!resp.ok) {
    const err = new ApiError(resp.status, data, resp.statusText);
    // A refusal that still stored a draft (a save whose test URL was not updated) tags it.
    err.tag = resp.headers.get('etag');
    if (resp.status === 401 && withToken === undefined) onUnauthorized(err);
    throw err;
  }
  return data;
}

export const enc = encodeURIComponent;
