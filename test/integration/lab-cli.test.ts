// The lab as a person drives it from a shell: --lab picks the lab every verb acts on, lab down
// never guesses among several labs, the test sweep leaves a person's lab alone, and podman
// runs a container in a lab host by the README's recipe without the lab's pod runner fighting it.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LABS_DIR,
  PODNET,
  labDown,
  labUp,
  podnet,
  readLab,
  sweepStaleLabs,
  testLabName,
  until,
} from '../helpers/lab.js';
import { shortToken, sweepStaleNamespaces } from '../helpers/names.js';
import { agentMetric } from '../helpers/agent-metrics.js';

before(() => {
  sweepStaleLabs();
  sweepStaleNamespaces();
});

const README = new URL('../../../README.md', import.meta.url).pathname;

/** A pid that no process has any more: the owner of a lab started from a shell since closed. */
function deadPid(): number {
  const pid = spawnSync('true').pid;
  assert.ok(pid);
  return pid;
}

function hostNamespaces(lab: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`${lab}-`));
}

test('lab cli: --lab picks the lab for status and down, lab down refuses to guess, the test sweep spares a lab not named pnt-, and lab.log times lab up by phase', () => {
  const mine = testLabName();
  // A person's lab: not a test name, and its owner (the shell that started it) is gone.
  const theirs = `user${shortToken()}`;
  try {
    labUp(mine, ['--nodes', '1']);
    const up = spawnSync(
      PODNET,
      ['lab', 'up', '--name', theirs, '--nodes', '1', '--ip-family', 'ipv4'],
      {
        encoding: 'utf8',
        env: { ...process.env, PODNET_LAB_OWNER_PID: String(deadPid()) },
        timeout: 120_000,
      },
    );
    assert.equal(up.status, 0, up.stderr);
    // Where `lab up` spent its time, in its own log: every phase, none longer than the whole.
    const ready = readFileSync(join(LABS_DIR, theirs, 'logs', 'lab.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg: string; ms: number; phases?: Record<string, number> })
      .find((o) => o.msg === 'lab ready');
    assert.deepEqual(Object.keys(ready?.phases ?? {}), [
      'topology',
      'store',
      'spawn',
      'nodes ready',
      'cluster dns',
      'handover',
    ]);
    const phaseMs = Object.values(ready!.phases!);
    assert.ok(phaseMs.every((ms) => ms >= 0) && phaseMs.reduce((a, b) => a + b) <= ready!.ms);

    const guess = podnet(['lab', 'down']);
    assert.equal(guess.status, 2);
    assert.match(guess.stderr, /several labs are up \(.*\): say which one with --name NAME/);
    assert.ok(guess.stderr.includes(mine) && guess.stderr.includes(theirs), guess.stderr);

    const status = podnet(['--lab', theirs, 'lab', 'status', '-o', 'json']);
    assert.equal(status.status, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { name: string }).name, theirs);

    const conflict = podnet(['--lab', mine, 'lab', 'down', '--name', theirs]);
    assert.equal(conflict.status, 2);
    assert.match(conflict.stderr, /name different labs/);

    const theirNamespaces = hostNamespaces(theirs);
    assert.ok(theirNamespaces.length >= 2, theirNamespaces.join());
    sweepStaleLabs();
    sweepStaleNamespaces();
    assert.ok(readLab(theirs), `the sweep took down ${theirs}`);
    assert.deepEqual(hostNamespaces(theirs), theirNamespaces, `the sweep touched ${theirs}`);

    const down = podnet(['--lab', mine, 'lab', 'down']);
    assert.equal(down.status, 0, down.stderr);
    assert.match(down.stderr, new RegExp(`lab ${mine} is down`));
    assert.equal(readLab(mine), undefined);
    assert.deepEqual(hostNamespaces(mine), []);
    assert.ok(readLab(theirs), `--lab ${mine} lab down took down ${theirs}`);
  } finally {
    labDown(mine);
    labDown(theirs);
  }
  assert.equal(existsSync(join(LABS_DIR, theirs)), false);
});

/** A root filesystem of busybox-static and its applet links: no registry needed. */
function busyboxRootfs(dir: string): string {
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  for (const applet of ['sh', 'ip', 'sleep']) symlinkSync('busybox', join(rootfs, 'bin', applet));
  return rootfs;
}

/** The README's podman recipe, its lines as argv (after the prompt-less indentation). */
function readmePodmanRecipe(): { install: string[]; run: string[] } {
  const text = readFileSync(README, 'utf8');
  const install = /^ {4}(podnet cni install --runtime podman .*)$/m.exec(text)?.[1];
  const run = /^ {4}(nsenter --net=\S+ podman run .*)$/m.exec(text)?.[1];
  assert.ok(install && run, 'the README gives no podman recipe');
  return { install: install.split(' '), run: run.split(' ') };
}

test('lab cli: podman runs a container on a lab host by the README recipe, and the pod runner leaves its Pod alone', async () => {
  const lab = testLabName();
  const dir = mkdtempSync(join(tmpdir(), 'podnet-podman-lab-'));
  const recipe = readmePodmanRecipe();
  try {
    labUp(lab, ['--nodes', '1']);
    // The recipe names the default lab; this test's lab has its own name, and the files go to
    // private directories instead of the machine's.
    const install = recipe.install.slice(1).map((a) => a.replace('/labs/podnet/', `/labs/${lab}/`));
    const dropIn = join(dir, 'podnet.conf');
    execFileSync(PODNET, [
      ...install,
      '--bin-dir',
      join(dir, 'bin'),
      '--conf-dir',
      join(dir, 'net.d'),
      '--containers-conf',
      dropIn,
    ]);
    const [nsenter, netnsFlag, podman, runVerb, ...runArgs] = recipe.run;
    assert.deepEqual([nsenter, podman, runVerb], ['nsenter', 'podman', 'run']);
    assert.ok(
      runArgs.includes('--network') && runArgs[runArgs.indexOf('--network') + 1] === 'podnet',
    );
    const child = spawn(
      'nsenter',
      [
        netnsFlag!.replace('podnet-node-1', `${lab}-node-1`),
        'podman',
        // This machine's own circumstances (no systemd, container limits), not podnet's.
        ...['--root', join(dir, 'storage'), '--runroot', join(dir, 'run')],
        ...['--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--runtime', 'runc'],
        'run',
        ...['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', '--name', 'box'],
        ...runArgs.filter((a) => a !== 'docker.io/library/busybox' && a !== 'ip' && a !== 'addr'),
        ...['--rootfs', busyboxRootfs(dir), 'sh', '-c', 'ip -4 -o addr show dev eth0; sleep 7'],
      ],
      { env: { ...process.env, CONTAINERS_CONF: dropIn }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    // The Pod the agent made for the container, while it runs.
    const pod = await until(
      'the Pod of the podman container',
      () => {
        const r = podnet(['--lab', lab, 'get', 'pod', 'box', '-o', 'json']);
        return r.status === 0
          ? (JSON.parse(r.stdout) as { metadata: { annotations?: Record<string, string> } })
          : undefined;
      },
      60_000,
    );
    assert.ok(pod.metadata.annotations?.['podnet.io/cni-container-id']);
    // Give the pod runner the chance it had before to take the Pod for its own.
    await new Promise((r) => setTimeout(r, 3000));
    const code = await exited;
    assert.equal(code, 0, out);
    assert.match(out, /inet 10\.244\.\d+\.\d+\/32/);
    const runnerLog = readFileSync(join(LABS_DIR, lab, 'logs', 'kubelet-node-1.log'), 'utf8');
    assert.doesNotMatch(runnerLog, /box/, 'the pod runner acted on the podman container');
    assert.equal(podnet(['--lab', lab, 'get', 'pod', 'box']).status, 1, 'the Pod outlived --rm');
  } finally {
    labDown(lab);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lab cli: host-gw across two zones is ready but says which peers it cannot reach and which backend would (lab up, the agent log once, get nodes)', async () => {
  const lab = testLabName();
  try {
    const up = podnet([
      'lab',
      'up',
      '--name',
      lab,
      '--nodes',
      '2',
      '--zones',
      '2',
      '--backend',
      'host-gw',
      '--ip-family',
      'ipv4',
    ]);
    assert.equal(up.status, 0, up.stderr);
    const warnings = up.stderr.split('\n').filter((l) => l.startsWith('warning: '));
    assert.deepEqual(
      warnings.map((w) =>
        /^warning: (node-\d) cannot route to (node-\d) \(.*not on-link.*\): backend host-gw needs every node on one L2 segment; backend auto .* or vxlan reaches them$/
          .exec(w)
          ?.slice(1),
      ),
      [
        ['node-1', 'node-2'],
        ['node-2', 'node-1'],
      ],
      up.stderr,
    );
    const nodes = podnet(['--lab', lab, 'get', 'nodes']);
    assert.match(nodes.stdout, /^node-1\s+Ready,NetworkUnavailable\s/m);
    assert.match(nodes.stdout, /^node-2\s+Ready,NetworkUnavailable\s/m);
    // The agent said it when it found out, and not again on a later reconcile (one comes on
    // any change, and every resync period at the latest): it is said once per change.
    const reconciles = (): number =>
      agentMetric(`${lab}-node-1`, 'podnet_routing_reconciles_total', { result: 'ok' });
    const saidAt = reconciles();
    await until('a reconcile after the one that found it out', () =>
      reconciles() > saidAt ? true : undefined,
    );
    const log = readFileSync(join(LABS_DIR, lab, 'logs', 'agent-node-1.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"msg":"cannot route to node-2'));
    assert.equal(log.length, 1, log.join('\n'));
    assert.match(log[0]!, /"advice":"backend host-gw needs every node on one L2 segment/);
  } finally {
    labDown(lab);
  }
});
