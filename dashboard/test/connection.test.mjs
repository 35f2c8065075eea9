// node --test dashboard/test: a connection's state says what the end user must do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectionState } from '../src/connection.js';

test('a refused refresh token asks for a new sign-in, once, with the reason', () => {
  const c = { status: 'needs_reauth', needs_reauth: { at: '2026-12-01T10:00:00Z', reason: 'invalid_grant: revoked' } };
  assert.deepEqual(connectionState(c), { tone: 'bad', text: 'needs a new sign-in: invalid_grant: revoked' });
  assert.deepEqual(connectionState({ status: 'needs_reauth', needs_reauth: null }), { tone: 'bad', text: 'needs a new sign-in' });
});

test('an active connection is said as its status', () => {
  assert.deepEqual(connectionState({ status: 'active', needs_reauth: null }), { tone: 'muted', text: 'active' });
});
