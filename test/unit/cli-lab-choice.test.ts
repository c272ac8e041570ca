// Which lab and which store a verb acts on: --lab is honoured everywhere, a lab verb's --name
// must agree with it, and verbs that only read never create a store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const podnet = new URL('../../../bin/podnet', import.meta.url).pathname;

/** A labs directory holding the lab.json of each named lab (each with its own store file). */
function fakeLabs(names: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-labs-'));
  for (const name of names) {
    mkdirSync(join(dir, name));
    const info = {
      name,
      storeUrl: `sqlite:${join(dir, name, 'store.db')}`,
      stateDir: join(dir, name),
    };
    writeFileSync(join(dir, name, 'lab.json'), JSON.stringify(info));
  }
  return dir;
}

function run(args: string[], env: Record<string, string> = {}) {
  const clean = { ...process.env };
  delete clean.PODNET_STORE;
  return spawnSync(podnet, args, { encoding: 'utf8', env: { ...clean, ...env } });
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, stderr);
  return lines[0]!;
}

test('cli: lab down with no name while several labs are up refuses (exit 2) and lists them', () => {
  const labs = fakeLabs(['lab-a', 'lab-b']);
  try {
    const r = run(['lab', 'down'], { PODNET_LABS_DIR: labs });
    assert.equal(r.status, 2);
    assert.match(oneLine(r.stderr), /several labs are up \(lab-a, lab-b\).*--name NAME/);
    assert.ok(existsSync(join(labs, 'lab-a', 'lab.json')) && existsSync(join(labs, 'lab-b')));
  } finally {
    rmSync(labs, { recursive: true, force: true });
  }
});

test('cli: a lab verb given --lab and a different --name refuses with exit 2', () => {
  const labs = fakeLabs(['lab-a', 'lab-b']);
  try {
    for (const verb of [['lab', 'down'], ['lab', 'status'], ['lab', 'up'], ['demo']]) {
      const r = run(['--lab', 'lab-a', ...verb, '--name', 'lab-b'], { PODNET_LABS_DIR: labs });
      assert.equal(r.status, 2, `${verb.join(' ')}: ${r.stderr}`);
      assert.match(oneLine(r.stderr), /--name lab-b and --lab lab-a name different labs/);
    }
  } finally {
    rmSync(labs, { recursive: true, force: true });
  }
});

test('cli: lab status --lab NAME shows that lab only, and a lab that is not up is exit 2', () => {
  const labs = fakeLabs(['lab-a']);
  try {
    const r = run(['--lab', 'lab-x', 'lab', 'status'], { PODNET_LABS_DIR: labs });
    assert.equal(r.status, 2, r.stdout);
    assert.match(oneLine(r.stderr), /lab lab-x is not up/);
  } finally {
    rmSync(labs, { recursive: true, force: true });
  }
});

test('cli: --lab picks the lab whose store a verb reads, ahead of PODNET_STORE; --lab with --store is exit 2', () => {
  const labs = fakeLabs(['lab-a', 'lab-b']);
  try {
    const ns = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}}\n`;
    for (const lab of ['lab-a', 'lab-b']) {
      const r = spawnSync(podnet, ['--lab', lab, 'apply', '-f', '-'], {
        encoding: 'utf8',
        input: ns(`only-in-${lab}`),
        env: { ...process.env, PODNET_LABS_DIR: labs },
      });
      assert.equal(r.status, 0, r.stderr);
    }
    const r = run(['--lab', 'lab-a', 'get', 'ns', '-o', 'json'], {
      PODNET_LABS_DIR: labs,
      PODNET_STORE: `sqlite:${join(labs, 'lab-b', 'store.db')}`,
    });
    assert.equal(r.status, 0, r.stderr);
    const names = (JSON.parse(r.stdout) as { items: { metadata: { name: string } }[] }).items.map(
      (n) => n.metadata.name,
    );
    assert.ok(names.includes('only-in-lab-a') && !names.includes('only-in-lab-b'), names.join());
    const both = run(['--lab', 'lab-a', '--store', 'sqlite::memory:', 'get', 'ns'], {
      PODNET_LABS_DIR: labs,
    });
    assert.equal(both.status, 2);
    assert.match(oneLine(both.stderr), /--store and --lab lab-a both name a store/);
    const missing = run(['--lab', 'lab-x', 'get', 'pods'], { PODNET_LABS_DIR: labs });
    assert.equal(missing.status, 2);
    assert.match(oneLine(missing.stderr), /--lab lab-x: no such lab is up/);
  } finally {
    rmSync(labs, { recursive: true, force: true });
  }
});

test('cli: read-only verbs on a sqlite store that does not exist fail (exit 1) naming the file, and create nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-nostore-'));
  const file = join(dir, 'missing', 'store.db');
  try {
    for (const verb of [
      ['get', 'pods'],
      ['get', 'endpoints'],
      ['get', 'bgp'],
      ['bgp', 'status'],
      ['delete', 'pod', 'x'],
    ]) {
      const r = run(['--store', `sqlite:${file}`, ...verb]);
      assert.equal(r.status, 1, `${verb.join(' ')}: ${r.stderr}`);
      assert.match(
        oneLine(r.stderr),
        new RegExp(`${file.replace(/[./]/g, '\\$&')} does not exist`),
      );
      assert.equal(
        existsSync(join(dir, 'missing')),
        false,
        `${verb.join(' ')} created the directory`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cli: lab up is dual-stack unless --ip-family says otherwise, as the demo is', () => {
  for (const verb of [['lab', 'up'], ['demo']]) {
    const r = run([...verb, '--help']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout.replace(/\s+/g, ' '),
      /--ip-family <family> .*\(choices: .*default: "dual"\)/,
    );
  }
});
