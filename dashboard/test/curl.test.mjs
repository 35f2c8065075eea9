// node --test dashboard/test: the test shelf's example request follows the draft's method.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exampleCurl } from '../src/curl.js';

const wf = (method) => ({ urls: { test: 'http://x/hooks/wf_1/test' }, draft: { trigger: method === undefined ? { type: 'endpoint' } : { type: 'endpoint', method } } });

test('the first method of the draft, with a JSON body only where one is sent', () => {
  assert.equal(exampleCurl(wf()), `curl -X POST 'http://x/hooks/wf_1/test' -H 'content-type: application/json' -d '{"hello":"world"}'`);
  assert.equal(exampleCurl(wf(['get', 'PUT'])), `curl 'http://x/hooks/wf_1/test'`);
  assert.equal(exampleCurl(wf('delete')), `curl -X DELETE 'http://x/hooks/wf_1/test'`);
  assert.match(exampleCurl(wf('PATCH')), /^curl -X PATCH 'http:\/\/x\/hooks\/wf_1\/test' -H 'content-type: application\/json' -d /);
  assert.match(exampleCurl({ urls: { test: 'u' } }), /^curl -X POST 'u'/);
});
