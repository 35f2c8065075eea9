// node --test dashboard/test: a stalled read is given up; a write is never cut short.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';

globalThis.sessionStorage = { getItem: () => 'tok', setItem() {}, removeItem() {} };
const { api, apiIfMatch, etagOf, strongTag, ApiError, JsonText, exactCompact, exactPretty } = await import('../src/api.js');

/** A server that answers `/slow` after `ms` and everything else at once, with the method. */
async function server(ms) {
  const srv = createServer((req, res) => {
    const answer = () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, auth: req.headers.authorization }));
    };
    if (req.url === '/slow') setTimeout(answer, ms); else answer();
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${srv.address().port}`, close: () => srv.closeAllConnections() || srv.close() };
}

test('a read that stalls is given up with a clear error; a fast one is not', async () => {
  // Generous margins: a loaded machine may take a second to answer the fast read.
  const s = await server(4000);
  try {
    assert.deepEqual(await api('GET', `${s.base}/fast`, undefined, undefined, 2000), { method: 'GET', auth: 'Bearer tok' });
    const err = await api('GET', `${s.base}/slow`, undefined, undefined, 2000).then(() => null, (e) => e);
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 0);
    assert.equal(err.message, 'Tripline did not answer within 2 s');
  } finally {
    s.close();
  }
});

test('a write waits for its answer however long it takes', async () => {
  const s = await server(600);
  try {
    assert.deepEqual(await api('POST', `${s.base}/slow`, { a: 1 }, undefined, 300), { method: 'POST', auth: 'Bearer tok' });
  } finally {
    s.close();
  }
});

test('an editor text is sent as typed, and an answer\'s large numbers are shown as sent', async () => {
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(`{"sent": ${JSON.stringify(body)}, "draft": {"id": 1234567890123456789, "ratio": 0.1}, "steps": [{"output": {"n": 9007199254740993}}]}`);
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const typed = '{"name": "a", "name": "b", "id": 1234567890123456789}';
    const answer = await api('PUT', `http://127.0.0.1:${srv.address().port}/`, new JsonText(typed));
    assert.equal(answer.sent, typed);
    // JSON.parse alone rounds it.
    assert.equal(answer.draft.id, 1234567890123456800);
    assert.equal(exactPretty(answer, 'draft'), '{\n  "id": 1234567890123456789,\n  "ratio": 0.1\n}');
    assert.equal(exactPretty(answer, 'draft', 'id'), '1234567890123456789');
    assert.equal(exactPretty(answer, 'missing'), undefined);
    // Members of arrays by index (a run's steps), and on one line.
    assert.equal(exactPretty(answer, 'steps', 0, 'output'), '{\n  "n": 9007199254740993\n}');
    assert.equal(exactCompact(answer, 'steps', 0, 'output'), '{"n":9007199254740993}');
    assert.equal(exactCompact(answer, 'steps', 1, 'output'), undefined);
    // A value that is not an answer is written as it is.
    assert.equal(exactPretty({ draft: { a: 1 } }, 'draft'), '{\n  "a": 1\n}');
  } finally {
    srv.close();
  }
});

test('an answer keeps its ETag, and apiIfMatch sends one back', async () => {
  const srv = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.setHeader('etag', '"abc"');
    res.end(JSON.stringify({ ifMatch: req.headers['if-match'] ?? null }));
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${srv.address().port}`;
  try {
    const read = await api('GET', `${base}/w`);
    assert.equal(etagOf(read), '"abc"');
    assert.equal(read.ifMatch, null);
    assert.equal((await apiIfMatch('PUT', `${base}/w`, {}, etagOf(read))).ifMatch, '"abc"');
    assert.equal((await apiIfMatch('PUT', `${base}/w`, {}, null)).ifMatch, null);
    assert.equal(etagOf({}), null);
    assert.equal(etagOf(null), null);
  } finally {
    srv.closeAllConnections();
    srv.close();
  }
});

test('a weak tag is the same revision as its strong form', () => {
  assert.equal(strongTag('W/"d-1a2b"'), '"d-1a2b"');
  assert.equal(strongTag('"d-1a2b"'), '"d-1a2b"');
  assert.notEqual(strongTag('W/"d-1a2b"'), strongTag('"d-3c4d"'));
  assert.equal(strongTag(null), null);
});
