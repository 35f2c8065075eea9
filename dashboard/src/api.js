// Same-origin calls to the management API with the admin token kept in sessionStorage.
const KEY = 'tripline.adminToken';

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
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

let onUnauthorized = () => {};
export function setUnauthorizedHandler(f) { onUnauthorized = f; }

/** Calls `path` with the stored token (or `withToken`); resolves to the parsed JSON body. */
export async function api(method, path, body, withToken) {
  const t = withToken ?? token.get();
  const headers = { accept: 'application/json' };
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, null, `Tripline could not be reached (${e.message || e}); check that the Worker is running`);
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!resp.ok) {
    const err = new ApiError(resp.status, data, resp.statusText);
    if (resp.status === 401 && withToken === undefined) onUnauthorized(err);
    throw err;
  }
  return data;
}

export const enc = encodeURIComponent;
