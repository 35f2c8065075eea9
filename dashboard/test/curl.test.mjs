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

const withSchema = (request, method) => ({ urls: { test: 'http://x/hooks/wf_1/test' }, draft: { trigger: { type: 'endpoint', method, request } } });

test('what the schema requires: query, headers and every body field, one of their type', () => {
  const request = {
    query: [{ name: 'source', required: true, enum: ['website', 'partner'] }, { name: 'page', type: 'integer' }, { name: 'k y', equals: 'a&b' }],
    headers: [{ name: 'x-api-key', equals: "it's" }, { name: 'x-trace' }],
    body: [
      { name: 'email', type: 'string', required: true },
      { name: 'address.city', type: 'string' },
      { name: 'items[].qty', type: 'integer', required: true },
      { name: 'items', type: 'array', required: true },
      { name: 'matrix[][]', type: 'number' },
      { name: 'kind', equals: 'order.created', enum: ['x'] },
      { name: 'ok', type: 'boolean' },
      { name: 'meta', type: 'object' },
      { name: 'gone', type: 'null' },
      { name: 'email.bad', type: 'string' },
    ],
  };
  assert.equal(exampleCurl(withSchema(request)),
    `curl -X POST 'http://x/hooks/wf_1/test?source=website&k%20y=a%26b' -H 'x-api-key: it'\\''s' -H 'content-type: application/json' -d '`
    + `{"email":"example","address":{"city":"example"},"items":[{"qty":1}],"matrix":[[1.5]],"kind":"order.created","ok":true,"meta":{},"gone":null}'`);
  assert.equal(exampleCurl(withSchema(request, 'GET')),
    `curl 'http://x/hooks/wf_1/test?source=website&k%20y=a%26b' -H 'x-api-key: it'\\''s'`);
  // Declared but nothing in it, or not lists: the plain example.
  assert.match(exampleCurl(withSchema({ body: [] })), /-d '\{"hello":"world"\}'$/);
  assert.match(exampleCurl(withSchema({ query: 'x', body: {} })), /^curl -X POST 'http:\/\/x\/hooks\/wf_1\/test' -H 'content-type: application\/json' -d '\{"hello":"world"\}'$/);
});

test('a field named like a prototype key is a field, and nothing else changes', () => {
  const request = { body: [
    { name: '__proto__.polluted', type: 'string', required: true },
    { name: 'constructor.prototype.x', type: 'integer' },
    { name: 'toString', type: 'boolean' },
  ] };
  assert.equal(exampleCurl(withSchema(request)),
    `curl -X POST 'http://x/hooks/wf_1/test' -H 'content-type: application/json' -d '{"__proto__":{"polluted":"example"},"constructor":{"prototype":{"x":1}},"toString":true}'`);
  assert.equal({}.polluted, undefined);
  assert.equal(Object.prototype.x, undefined);
});

test('a content type the schema requires is sent once: its own value, or JSON', () => {
  const typed = (rule) => withSchema({ headers: [rule], body: [{ name: 'a', type: 'integer' }] });
  assert.equal(exampleCurl(typed({ name: 'Content-Type', required: true })),
    `curl -X POST 'http://x/hooks/wf_1/test' -H 'Content-Type: application/json' -d '{"a":1}'`);
  assert.equal(exampleCurl(typed({ name: 'content-type', equals: 'application/vnd.api+json' })),
    `curl -X POST 'http://x/hooks/wf_1/test' -H 'content-type: application/vnd.api+json' -d '{"a":1}'`);
  assert.equal(exampleCurl(typed({ name: 'content-type', required: true, enum: [] })),
    `curl -X POST 'http://x/hooks/wf_1/test' -H 'content-type: application/json' -d '{"a":1}'`);
  assert.equal(exampleCurl(typed({ name: 'content-type', required: true, enum: ['application/json; charset=utf-8'] })),
    `curl -X POST 'http://x/hooks/wf_1/test' -H 'content-type: application/json; charset=utf-8' -d '{"a":1}'`);
});
