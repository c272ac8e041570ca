// Who may read the map: anyone on loopback, only the token's holder elsewhere, and nobody may
// change anything (GET, and POST only to run a trace).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopback, parseListen, refusal } from '../../src/ui/server/access.js';
import { UsageError } from '../../src/util/errors.js';

const req = (
  method: string,
  path: string,
  opts: { query?: string; authorization?: string } = {},
) => ({
  method,
  path,
  query: new URLSearchParams(opts.query ?? ''),
  ...(opts.authorization ? { authorization: opts.authorization } : {}),
});

test('ui access: --listen takes IP:PORT of either family and names the flag otherwise', () => {
  assert.deepEqual(parseListen('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
  for (const bad of ['localhost:80', '127.0.0.1', '1.2.3.4:70000', ':80']) {
    assert.throws(
      () => parseListen(bad),
      (e: unknown) => e instanceof UsageError && /--listen/.test(e.message),
    );
  }
});

test('ui access: loopback is 127/8 and ::1 only', () => {
  assert.equal(isLoopback('127.0.0.1'), true);
  assert.equal(isLoopback('127.3.2.1'), true);
  assert.equal(isLoopback('::1'), true);
  assert.equal(isLoopback('0.0.0.0'), false);
  assert.equal(isLoopback('172.31.1.1'), false);
});

test('ui access: without a token needed, reads pass; every method that could write is refused', () => {
  assert.equal(refusal(req('GET', '/api/map'), undefined), undefined);
  assert.equal(refusal(req('POST', '/api/trace'), undefined), undefined);
  for (const [method, path] of [
    ['POST', '/api/map'],
    ['PUT', '/api/trace'],
    ['DELETE', '/api/map'],
    ['PATCH', '/'],
  ] as const) {
    assert.equal(refusal(req(method, path), undefined)?.status, 405, `${method} ${path}`);
  }
});

test('ui access: with a token, only the exact token passes, as a bearer header or ?token=', () => {
  const token = 's3cret-token';
  assert.equal(refusal(req('GET', '/'), token)?.status, 401);
  assert.equal(refusal(req('GET', '/', { query: 'token=wrong' }), token)?.status, 401);
  assert.equal(
    refusal(req('GET', '/', { authorization: 'Bearer s3cret-toke' }), token)?.status,
    401,
  );
  assert.equal(refusal(req('GET', '/', { query: `token=${token}` }), token), undefined);
  assert.equal(refusal(req('GET', '/', { authorization: `Bearer ${token}` }), token), undefined);
  // A token never makes a write allowed.
  assert.equal(refusal(req('DELETE', '/api/map', { query: `token=${token}` }), token)?.status, 405);
});
