// One outbound request with a deadline and a body cap, for src/platform/fetch.rs. The request,
// the abort timer and the body read stay on the JavaScript side; what crosses into wasm is one
// array: the outcome, the status, the headers as JSON text and the body's bytes.

// Sends `method url` with `headers` (JSON text of [[name, value], ...]) and `body` (a string, a
// Uint8Array or undefined). `manual` keeps redirects from being followed. Resolves, never
// rejects, to one of:
//   ["ok", status, headersJson, bytes, cut, declared]  (declared: content-length or -1)
//   ["header", name]     a header the platform refuses
//   ["invalid", message] a request that cannot be built (the URL, the method)
//   ["network", message] no answer, or its body could not be read
//   ["timeout"]          no full answer within timeoutMs (the request is aborted)
//
// A request without a `user-agent` is sent with `tripline`: the platform sends none, and some
// APIs (GitHub's) refuse a request without one.
export async function send(url, method, headers, body, manual, timeoutMs, maxBody) {
  const pairs = JSON.parse(headers);
  if (!pairs.some(([name]) => name.toLowerCase() === "user-agent")) pairs.push(["user-agent", "tripline"]);
  const controller = new AbortController();
  const init = {
    method,
    headers: pairs,
    body,
    redirect: manual ? "manual" : "follow",
    signal: controller.signal,
  };
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    // Sent as `url` and `init`, not as a `Headers` and a `Request` built first: the platform
    // builds its own either way. What could not be built is told apart when the call fails.
    const response = await fetch(url, init);
    const answerHeaders = JSON.stringify([...response.headers]);
    const length = response.headers.get("content-length");
    const declared = length !== null && /^\s*\d+\s*$/.test(length) ? Number(length) : -1;
    // An answer without a body (HEAD, 204, 304) declares the length of one it does not send.
    const bodiless = response.body === null || method === "HEAD" || response.status === 204 || response.status === 304;
    if (bodiless) return ["ok", response.status, answerHeaders, new Uint8Array(0), false, declared];
    if (declared > maxBody) {
      // Refused before any byte is read; the rest of the transfer is stopped.
      controller.abort();
      return ["ok", response.status, answerHeaders, new Uint8Array(0), true, declared];
    }
    const encoding = response.headers.get("content-encoding");
    if (declared >= 0 && (encoding === null || encoding === "identity")) {
      // Its whole length is known and within the cap: read in one piece. (A compressed answer's
      // length is its compressed size, so that one is read with the cap applied as it comes.)
      const bytes = new Uint8Array(await response.arrayBuffer());
      return ["ok", response.status, answerHeaders, bytes, false, declared];
    }
    const [bytes, cut] = await readUpTo(response, maxBody);
    if (cut) controller.abort();
    return ["ok", response.status, answerHeaders, bytes, cut, declared];
  } catch (e) {
    if (controller.signal.aborted) return ["timeout"];
    const list = new Headers();
    for (const [name, value] of pairs) {
      try {
        list.append(name, value);
      } catch {
        return ["header", name];
      }
    }
    try {
      new Request(url, init);
    } catch (invalid) {
      return ["invalid", describe(invalid)];
    }
    return ["network", describe(e)];
  } finally {
    clearTimeout(timer);
  }
}

// An error as the platform names it: "TypeError: Network connection lost."
function describe(e) {
  if (!(e instanceof Error)) return String(e);
  return e.code ? `${e.name} [${e.code}]: ${e.message}` : `${e.name}: ${e.message}`;
}

// A body of unknown length, read up to `max` bytes; `cut` when it went past them (the rest is
// cancelled, never read).
async function readUpTo(response, max) {
  if (response.body === null) return [new Uint8Array(0), false];
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.length > max) {
      chunks.push(value.subarray(0, max - size));
      size = max;
      reader.cancel().catch(() => {});
      return [join(chunks, size), true];
    }
    chunks.push(value);
    size += value.length;
  }
  return [join(chunks, size), false];
}

function join(chunks, size) {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
