// ServiceAccount tokens: what a signed token carries, and every way one is refused (another
// key, expired, another audience, a tampered claim, an account deleted or made again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ServiceAccount } from '../../src/api/types.js';
import { InvalidCredentialsError } from '../../src/apiserver/auth.js';
import {
  DEFAULT_ISSUER,
  issueToken,
  serviceAccountTokens,
  verifyToken,
} from '../../src/apiserver/tokens.js';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const publicKey = createPublicKey(privateKey);
const robot: ServiceAccount = {
  apiVersion: 'v1',
  kind: 'ServiceAccount',
  metadata: { name: 'robot', namespace: 'default', uid: 'uid-1' },
};
const NOW = new Date('2025-01-01T00:00:00Z');
const opts = { issuer: DEFAULT_ISSUER, audiences: [DEFAULT_ISSUER] };

function token(spec = {}, account = robot, now = NOW): string {
  return issueToken(privateKey, account, spec, { issuer: DEFAULT_ISSUER, now }).token;
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InvalidCredentialsError, String(err));
    return err.message;
  }
  return 'accepted';
}

test('a token is an ES256 JWT with the claims Kubernetes puts in', () => {
  const issued = issueToken(privateKey, robot, {}, { issuer: DEFAULT_ISSUER, now: NOW });
  const [header, payload] = issued.token
    .split('.')
    .slice(0, 2)
    .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>);
  assert.equal(header!.alg, 'ES256');
  assert.equal(typeof header!.kid, 'string');
  assert.equal(payload!.iss, DEFAULT_ISSUER);
  assert.equal(payload!.sub, 'system:serviceaccount:default:robot');
  assert.deepEqual(payload!.aud, [DEFAULT_ISSUER]);
  assert.equal(payload!.exp, NOW.getTime() / 1000 + 3600);
  assert.deepEqual(payload!['kubernetes.io'], {
    namespace: 'default',
    serviceaccount: { name: 'robot', uid: 'uid-1' },
  });
  assert.equal(issued.expirationTimestamp, '2025-01-01T01:00:00Z');
  assert.equal(verifyToken(publicKey, issued.token, { ...opts, now: NOW })?.sub, payload!.sub);
});

test('refused: another key, expired, not yet valid, another audience, a changed claim', () => {
  const other = createPublicKey(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
  assert.match(
    refusal(() => verifyToken(other, token(), { ...opts, now: NOW })),
    /signature/,
  );
  const later = new Date(NOW.getTime() + 3600_000);
  assert.match(
    refusal(() => verifyToken(publicKey, token(), { ...opts, now: later })),
    /expired/,
  );
  const short = token({ expirationSeconds: 600 });
  const stillFine = new Date(NOW.getTime() + 599_000);
  assert.equal(
    refusal(() => verifyToken(publicKey, short, { ...opts, now: stillFine })),
    'accepted',
  );
  const earlier = new Date(NOW.getTime() - 60_000);
  assert.match(
    refusal(() => verifyToken(publicKey, token(), { ...opts, now: earlier })),
    /not valid yet/,
  );
  const vault = token({ audiences: ['vault'] });
  assert.match(
    refusal(() => verifyToken(publicKey, vault, { ...opts, now: NOW })),
    /vault/,
  );
  const [h, p, s] = token().split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'system:serviceaccount:kube-system:admin' })).toString('base64url')}.${s}`;
  assert.match(
    refusal(() => verifyToken(publicKey, forged, { ...opts, now: NOW })),
    /signature/,
  );
});

test('not ours: anything but a JWT of this issuer is left to the next authenticator', () => {
  assert.equal(verifyToken(publicKey, 'wrong', { ...opts, now: NOW }), undefined);
  const foreign = issueToken(privateKey, robot, {}, { issuer: 'https://elsewhere', now: NOW });
  assert.equal(verifyToken(publicKey, foreign.token, { ...opts, now: NOW }), undefined);
});

test("the authenticator: the account's user and groups while the account lives", async () => {
  let stored: ServiceAccount | undefined = robot;
  const chain = serviceAccountTokens({ publicKey, ...opts, lookup: async () => stored });
  const req = (t: string) => ({ headers: { authorization: `Bearer ${t}` } }) as IncomingMessage;
  const fresh = token({}, robot, new Date());
  assert.deepEqual(await chain.authenticate(req(fresh)), {
    name: 'system:serviceaccount:default:robot',
    groups: ['system:serviceaccounts', 'system:serviceaccounts:default'],
  });
  assert.equal(await chain.authenticate({ headers: {} } as IncomingMessage), undefined);
  stored = { ...robot, metadata: { ...robot.metadata, uid: 'uid-2' } };
  await assert.rejects(async () => chain.authenticate(req(fresh)), /made again/);
  stored = undefined;
  await assert.rejects(async () => chain.authenticate(req(fresh)), /gone/);
});
