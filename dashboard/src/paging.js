// Lists that page with a cursor and fetch their first page again now and then (workflows, runs,
// connections): a refresh updates what it covers and keeps the pages loaded below it.

/** `page` (the first page, fetched again) merged into `loaded`: the page's items, then the
 * loaded items that sort after its last one (`sortsAfter(item, last)`), which the pages loaded
 * later hold. A loaded item the page no longer has, but that would sort within it, is gone
 * (deleted, or out of the filter). When the page is the whole list (`complete`: it has no next
 * cursor), nothing else is kept. A page that holds none of the loaded items may not reach them
 * (more new items came than a page holds): the list starts again from it, the pages below
 * unloaded. The answer is `page` itself whenever it is the whole list shown: the caller then
 * pages on from the page's own cursor. */
export function refreshFirstPage(loaded, page, complete, keyOf, sortsAfter) {
  if (!loaded || complete || !page.length) return page;
  const fresh = new Set(page.map(keyOf));
  if (!loaded.some((x) => fresh.has(keyOf(x)))) return page;
  const last = page[page.length - 1];
  return [...page, ...loaded.filter((x) => !fresh.has(keyOf(x)) && sortsAfter(x, last))];
}

/** The first page fetched again (`fetchPage(null)`), and as many pages after it as it takes to
 * reach the items `loaded` (at most `extra` more): when more new items came since the last
 * refresh than a page holds, the first page alone holds none of them, and the list would start
 * again from it. `fetchPage(cursor)` answers `{ items, cursor }` (the next page's cursor, or
 * null at the end of the list), or null when its answer is not wanted any more (then so is
 * this). The answer is the pages' items, as one page for `refreshFirstPage`, and the cursor
 * after them. */
export async function fetchFirstPages(loaded, fetchPage, keyOf, extra = 5) {
  let page = await fetchPage(null);
  if (!page) return null;
  let { items, cursor } = page;
  const have = new Set((loaded || []).map(keyOf));
  for (let n = 0; have.size && cursor && n < extra && !items.some((x) => have.has(keyOf(x))); n += 1) {
    page = await fetchPage(cursor);
    if (!page) return null;
    items = appendPage(items, page.items, keyOf);
    cursor = page.cursor;
  }
  return { items, cursor };
}

/** The next page appended to `loaded`, without the items already there. */
export function appendPage(loaded, page, keyOf) {
  const seen = new Set((loaded || []).map(keyOf));
  return [...(loaded || []), ...page.filter((x) => !seen.has(keyOf(x)))];
}
