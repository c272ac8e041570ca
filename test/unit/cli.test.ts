import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const podnet = new URL('../../../bin/podnet', import.meta.url).pathname;

test('cli: an unknown flag is a one-line usage error with exit code 2', () => {
  const r = spawnSync(podnet, ['--no-such-flag'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown option '--no-such-flag'/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/);
});

test('cli: --version prints the version and exits 0', () => {
  const r = spawnSync(podnet, ['--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^\d+\.\d+\.\d+/);
});
