// Status that tells the truth, made by hand in one lab (2 hosts, short lease and back-off):
// pods whose command fails or runs nothing, a pod bound to a node that does not exist, and an
// agent killed with SIGKILL — each shown by `get`, `lab status` and `doctor`, then undone.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from '../../src/api/types.js';
import { isRunning, signalGroup } from '../../src/process/daemons.js';
import { findProcess, listProcesses } from '../../src/lab/supervisor.js';
import type { LabState } from '../../src/lab/state.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import {
  labDown,
  labUp,
  podnet,
  podnetOk,
  sweepStaleLabs,
  testLabName,
  until,
} from '../helpers/lab.js';

const pod = (name: string, node: string, container: string): string => `apiVersion: v1
kind: Pod
metadata: { name: ${name} }
spec:
  nodeName: ${node}
  containers: [${container}]
`;

describe('lab status', () => {
  const name = testLabName();
  let lab: LabState;
  const env = { ...process.env };

  before(() => {
    sweepStaleLabs();
    sweepStaleNamespaces();
    // Inherited by the lab's agents and pod runners: a node is silent after 4 s, and a crash
    // loop waits 1 s, then 2 s, ... instead of 10 s.
    process.env.PODNET_NODE_LEASE_SECONDS = '4';
    process.env.PODNET_BACKOFF_BASE_SECONDS = '1';
    lab = labUp(name, ['--nodes', '2']);
  });
  after(() => {
    labDown(name);
    process.env = env;
  });

  const ok = (args: string[], input?: string): string =>
    podnetOk(['--lab', lab.name, ...args], { input });
  const getPod = (p: string): Pod => JSON.parse(ok(['get', 'pod', p, '-o', 'json'])) as Pod;
  const podRow = (p: string, wide = false): string[] =>
    ok(['get', 'pod', p, ...(wide ? ['-o', 'wide'] : [])])
      .trim()
      .split('\n')[1]!
      .split(/\s{3,}/);
  const labStatus = () =>
    JSON.parse(podnetOk(['lab', 'status', '--name', lab.name, '-o', 'json'])) as {
      problems: string[];
      nodes: { name: string; ready: string; reason?: string }[];
      processes: { id: string; pid: number; running: boolean }[];
    };
  const readyOf = (node: string) =>
    (JSON.parse(ok(['get', 'node', node, '-o', 'json'])) as Node).status?.conditions?.find(
      (c) => c.type === 'Ready',
    );

  test('status: a running pod is Running 1/1 with no restarts; the lab is healthy', async () => {
    ok(['apply', '-f', '-'], pod('sleeper', 'node-1', '{ name: main, command: [sleep, "3600"] }'));
    const row = await until('sleeper to run', () => {
      const r = podRow('sleeper');
      return r[2] === 'Running' && r[1] === '1/1' ? r : undefined;
    });
    assert.equal(row[3], '0');
    const c = getPod('sleeper').status!.containerStatuses![0]!;
    assert.ok(c.state.running?.startedAt);
    assert.equal(c.ready, true);
    const status = labStatus();
    assert.deepEqual(status.problems, []);
    assert.deepEqual(
      status.nodes.map((n) => [n.name, n.ready]),
      [
        ['node-1', 'True'],
        ['node-2', 'True'],
      ],
    );
    const doctor = podnet(['--lab', lab.name, 'doctor', '--node', 'node-1']);
    assert.match(doctor.stdout, /pass {2}agents {11}every node's agent is posting status/);
  });

  test('status: a command that does not exist crash-loops with StartError 128 and back-off', async () => {
    ok(['apply', '-f', '-'], pod('missing', 'node-1', '{ name: main, command: [no-such-cmd-pn] }'));
    const c = await until('missing to crash-loop', () => {
      const s = getPod('missing').status?.containerStatuses?.[0];
      return s?.state.waiting?.reason === 'CrashLoopBackOff' && s.restartCount >= 1 ? s : undefined;
    });
    assert.equal(c.ready, false);
    assert.equal(c.lastState?.terminated?.exitCode, 128);
    assert.equal(c.lastState?.terminated?.reason, 'StartError');
    assert.equal(
      c.lastState?.terminated?.message,
      'exec: "no-such-cmd-pn": executable file not found in $PATH',
    );
    assert.match(c.state.waiting!.message!, /^back-off \d+s restarting failed container=main /);
    const row = podRow('missing');
    assert.equal(row[1], '0/1');
    assert.equal(row[2], 'CrashLoopBackOff');
    assert.match(row[3]!, /^[1-9]\d* \(\d+s ago\)$/);
  });

  test('status: a container that exits 3 shows its exit code and restarts', async () => {
    ok(['apply', '-f', '-'], pod('exits', 'node-2', '{ name: main, command: [sh, -c, "exit 3"] }'));
    const c = await until('exits to crash-loop', () => {
      const s = getPod('exits').status?.containerStatuses?.[0];
      return s?.lastState?.terminated && s.restartCount >= 1 ? s : undefined;
    });
    assert.equal(c.lastState!.terminated!.exitCode, 3);
    assert.equal(c.lastState!.terminated!.reason, 'Error');
    assert.ok(['CrashLoopBackOff', 'Running'].includes(podRow('exits')[2]!));
  });

  test('status: an image with no command warns on apply and says why nothing runs', async () => {
    const r = podnet(['--lab', lab.name, 'apply', '-f', '-'], {
      input: pod('nginx', 'node-1', '{ name: web, image: nginx }'),
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stderr,
      "Warning: Pod default/nginx: container web (image nginx) has no command: podnet's lab runs commands on the host's filesystem and pulls no images, so it will run nothing\n",
    );
    const message =
      "container web runs nothing: the lab runs commands on the host's filesystem and image nginx is not pulled or run; give it a command";
    const p = await until('nginx to be looked at', () => {
      const p = getPod('nginx');
      return p.status?.containerStatuses ? p : undefined;
    });
    assert.equal(p.status!.message, message);
    assert.deepEqual(p.status!.containerStatuses![0]!.state, {
      waiting: { reason: 'NoCommand', message },
    });
    const row = podRow('nginx', true);
    assert.deepEqual([row[1], row[2], row[row.length - 1]], ['0/1', 'NoCommand', message]);
  });

  test('status: a pod bound to a node that does not exist is Pending and says why', () => {
    const r = podnet(['--lab', lab.name, 'apply', '-f', '-'], {
      input: pod('lost', 'node-9', '{ name: main, command: [sleep, "60"] }'),
    });
    assert.equal(r.status, 0, r.stderr);
    const why =
      'no Node named node-9 (the cluster has node-1, node-2): the pod waits until a node of that name joins';
    assert.equal(r.stderr, `Warning: Pod default/lost: ${why}\n`);
    assert.deepEqual(getPod('lost').status!.conditions, [
      { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: why },
    ]);
    const row = podRow('lost', true);
    assert.deepEqual(
      [row[2], row[row.length - 2], row[row.length - 1]],
      ['Pending', 'node-9', why],
    );
  });

  test('status: a SIGKILLed agent makes its node Unknown, named by lab status and doctor; lab repair restarts only it', async () => {
    const agent = findProcess(lab.stateDir, 'agent-node-2')!;
    const before = new Map(listProcesses(lab.stateDir).map((p) => [p.id, p.pid]));
    signalGroup(agent, 'SIGKILL');
    await until('the agent to die', () => (isRunning(agent) ? undefined : true));
    const cond = await until(
      'node-2 to become Unknown',
      () => {
        const c = readyOf('node-2');
        return c?.status === 'Unknown' ? c : undefined;
      },
      30_000,
    );
    assert.equal(cond.reason, 'NodeStatusUnknown');
    assert.equal(cond.message, 'agent stopped posting status');
    assert.equal(readyOf('node-1')?.status, 'True');
    const nodes = ok(['get', 'nodes']);
    assert.match(nodes, /^node-2\s+NotReady\s/m);

    const status = labStatus();
    assert.deepEqual(status.problems, [
      `exited: agent-node-2 (start them again with 'podnet lab repair --name ${lab.name}')`,
      'node node-2 is Ready=Unknown (NodeStatusUnknown: agent stopped posting status)',
    ]);
    const text = podnetOk(['lab', 'status', '--name', lab.name]);
    assert.match(text, new RegExp(`^lab ${lab.name}: degraded,`));

    const doctor = podnet(['--lab', lab.name, 'doctor', '--node', 'node-2']);
    assert.equal(doctor.status, 1);
    assert.match(
      doctor.stdout,
      new RegExp(
        `FAIL  agents {11}the agent on node-2 stopped posting status \\(last heartbeat \\d+ s ago\\): its routes, rules and pods' network are not kept in step until it is restarted\\n\\s+fix: podnet lab repair --name ${lab.name}\\n`,
      ),
    );

    const repair = podnet(['lab', 'repair', '--name', lab.name]);
    assert.equal(repair.status, 0, repair.stderr);
    assert.match(repair.stderr, /^restarted agent-node-2 \(pid \d+\)\n/);
    const after = new Map(listProcesses(lab.stateDir).map((p) => [p.id, p.pid]));
    for (const [id, pid] of before) {
      if (id === 'agent-node-2') assert.notEqual(after.get(id), pid);
      else if (!id.startsWith('pod-')) assert.equal(after.get(id), pid, `${id} was restarted`);
    }
    await until('node-2 to be Ready again', () =>
      readyOf('node-2')?.status === 'True' ? true : undefined,
    );
    assert.deepEqual(
      labStatus().problems.filter((p) => !p.startsWith('node ')),
      [],
    );
    const again = podnet(['--lab', lab.name, 'doctor', '--node', 'node-2']);
    assert.match(again.stdout, /pass {2}agents {11}every node's agent is posting status/);
    // Nothing left to repair; `lab up` on the lab that is up repairs rather than refusing.
    const up = podnet(['lab', 'up', '--name', lab.name]);
    assert.equal(up.status, 0, up.stderr);
    assert.equal(up.stderr, `lab ${lab.name}: every process is running; nothing to repair\n`);
  });
});
