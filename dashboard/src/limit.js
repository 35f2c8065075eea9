// Requests fanned out over many items (the workflow list's per-row details): a few at a time,
// so that one page of the list does not send fifty at once.

/** `f(item)` for each of `items`, at most `n` at a time; the results in the items' order. */
export async function mapLimited(items, n, f) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}
