import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { run, runJson } from '../../src/process/run.js';
import { OperationError } from '../../src/util/errors.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../helpers/names.js';

before(() => sweepStaleNamespaces());

test('kernel: run() executes inside the network namespace it is given', async () => {
  const ns = uniqueName('exec');
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const links = await runJson<{ ifname: string }[]>(['ip', '-j', 'link', 'show'], { netns: ns });
    assert.deepEqual(
      links.map((l) => l.ifname),
      ['lo'],
    );
  } finally {
    deleteNamespace(ns);
  }
});

test('kernel: a failing program becomes an OperationError naming the command', async () => {
  await assert.rejects(
    run(['ip', 'link', 'show', 'dev', 'pnt-no-such-dev']),
    (err: unknown) =>
      err instanceof OperationError && /ip link show dev pnt-no-such-dev/.test(err.message),
  );
});
