// node --test dashboard/test: the steps a run's page lists after those the run recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unreachedSteps } from '../src/unreached.js';

const planned = [{ type: 'http', name: 'call' }, { type: 'log', name: 'note' }, { type: 'response', name: 'answer' }];
const rec = (...names) => names.map((name) => ({ name, status: 'succeeded' }));
const states = (run) => unreachedSteps(run, planned).map((s) => `${s.name}:${s.type}:${s.state}`);

test('a running run: the step after the recorded ones is in progress, later ones wait', () => {
  assert.deepEqual(states({ status: 'running', steps: rec('call') }), ['note:log:in progress', 'answer:response:waiting']);
  assert.deepEqual(states({ status: 'queued', steps: [] }), ['call:http:waiting', 'note:log:waiting', 'answer:response:waiting']);
});

test('a failed run: the steps after the failed one were not run', () => {
  assert.deepEqual(states({ status: 'failed', steps: [{ name: 'call', status: 'failed' }] }), ['note:log:not run', 'answer:response:not run']);
  assert.deepEqual(states({ status: 'failed' }), ['call:http:not run', 'note:log:not run', 'answer:response:not run']);
});

test('a step written without a name is named as its records name it: <type>_<index>', () => {
  const unnamed = [{ type: 'http', name: 'call' }, { type: 'log' }, { type: 'response' }];
  const got = (run) => unreachedSteps(run, unnamed).map((s) => `${s.name}:${s.state}`);
  assert.deepEqual(got({ status: 'failed', steps: [{ name: 'call', status: 'failed' }] }), ['log_1:not run', 'response_2:not run']);
  assert.deepEqual(got({ status: 'running', steps: [{ name: 'call' }, { name: 'log_1' }] }), ['response_2:in progress']);
  assert.deepEqual(got({ status: 'queued' }), ['call:waiting', 'log_1:waiting', 'response_2:waiting']);
});

test('nothing when the run succeeded, the definition is unknown, or the records are of another definition', () => {
  assert.deepEqual(states({ status: 'succeeded', steps: rec('call') }), []);
  assert.deepEqual(unreachedSteps({ status: 'running', steps: [] }, null), []);
  assert.deepEqual(states({ status: 'running', steps: rec('other') }), []);
  assert.deepEqual(states({ status: 'failed', steps: rec('call', 'note', 'answer', 'extra') }), []);
});
