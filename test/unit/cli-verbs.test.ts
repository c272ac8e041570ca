// `podnet`'s verb groups load on demand: a command line registers only the groups it names,
// every group when it names none (help), and each verb, named alone, finds its own group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerVerbs } from '../../src/cli/verbs.js';

async function verbsFor(args: string[]): Promise<string[]> {
  const program = new Command('podnet');
  await registerVerbs(program, args);
  return program.commands.map((c) => c.name());
}

test('cli verbs: a `get` loads only the object verbs', async () => {
  assert.deepEqual(await verbsFor(['--lab', 'pnt-x', 'get', 'pods', '-o', 'json']), [
    'apply',
    'get',
    'delete',
    'repair',
  ]);
});

test('cli verbs: no verb named (help, a typo) loads every group, each verb once', async () => {
  const all = await verbsFor(['--help']);
  assert.equal(new Set(all).size, all.length, `a verb registered twice: ${all.join(' ')}`);
  for (const verb of ['agent', 'apply', 'cni', 'lab', 'plan', 'doctor', 'trace', 'ui', 'install'])
    assert.ok(all.includes(verb), `${verb} missing from ${all.join(' ')}`);
});

test('cli verbs: every verb, named alone, registers itself', async () => {
  for (const verb of await verbsFor([])) {
    assert.ok((await verbsFor([verb])).includes(verb), `${verb} alone does not load its group`);
  }
});
