// Reads a request's body stream with a cap, for src/platform/body.rs. A stream the sender
// broke off (a chunked body cut short) rejects its read here: the caller refuses the request
// instead of taking the part that arrived for the whole body. Resolves, never rejects, to one of:
//   ["ok", bytes]      the whole body (a Uint8Array; empty when there is none)
//   ["too_large"]      more than `max` bytes (up to `maxDrain` more were read and dropped, so
//                      that the sender reads the answer: a stream cancelled halfway makes some
//                      proxies answer 503 instead)
//   ["failed", message] the body could not be read in full
export async function readCapped(request, max, maxDrain) {
  if (!request.body) return ["ok", new Uint8Array(0)];
  const reader = request.body.getReader();
  const parts = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > max) {
        let drained = 0;
        while (drained <= maxDrain) {
          const rest = await reader.read().catch(() => ({ done: true }));
          if (rest.done) break;
          drained += rest.value.byteLength;
        }
        return ["too_large"];
      }
      parts.push(value);
    }
  } catch (e) {
    return ["failed", String((e && e.message) || e)];
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.byteLength;
  }
  return ["ok", bytes];
}
