// A lab of 3 hosts with one echo pod per host, and the tools the lab tests use on it: HTTP and
// ping between pods, child processes owned by the test, packet captures in a host namespace.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { spawn } from 'node:child_process';
import type { LabState } from '../../src/lab/state.js';
import {
  echoGet,
  echoPodYaml,
  labDown,
  labUp,
  PODNET,
  podExec,
  podnet,
  podnetOk,
  runningPodIPs,
  sweepLeftovers,
  testLabName,
  until,
  type EchoAnswer,
} from './lab.js';

export const NODES = ['node-1', 'node-2', 'node-3'];

/** A lab of 3 hosts with one echo pod per host (`echo-1` on node-1, ...). */
export class EchoLab {
  readonly name = testLabName();
  lab!: LabState;
  /** Pod IP by pod name. */
  readonly ips = new Map<string, string>();

  constructor(readonly flags: string[]) {}

  async up(): Promise<void> {
    this.lab = labUp(this.name, ['--nodes', '3', ...this.flags]);
    podnetOk(['--lab', this.name, 'apply', '-f', '-'], {
      input: NODES.map((n, i) => echoPodYaml(`echo-${i + 1}`, n, this.echoAddress())).join('---\n'),
    });
    for (let i = 1; i <= NODES.length; i++)
      this.ips.set(`echo-${i}`, await this.running(`echo-${i}`));
  }

  down(): void {
    labDown(this.name);
  }

  /** A dual-stack lab's echo pods answer on both families ('::' takes IPv4 too). */
  private echoAddress(): string | undefined {
    const family = this.flags[this.flags.indexOf('--ip-family') + 1];
    return this.flags.includes('--ip-family') && family !== 'ipv4' ? '::' : undefined;
  }

  ip(pod: string): string {
    return this.ips.get(pod)!;
  }

  /** Waits until the pod reports Running and Ready; returns its IP. */
  private running(pod: string): Promise<string> {
    return until(`pod ${pod} to run`, () => runningPodIPs(this.name, pod)?.[0]);
  }

  exec(pod: string, argv: string[]): ReturnType<typeof podnet> {
    return podExec(this.name, pod, argv);
  }

  /** GET http://ip:8080/ from inside a pod, retried until the deadline; the echo's answer. */
  http(from: string, to: string): Promise<EchoAnswer> {
    return echoGet(this.name, from, this.ip(to));
  }

  /** Every pod fetches from every other pod; each answer names the pod and node asked. */
  async allPairs(): Promise<void> {
    for (const from of this.ips.keys()) {
      for (const to of this.ips.keys()) {
        if (from === to) continue;
        const answer = await this.http(from, to);
        assert.equal(answer.pod, to, `${from} -> ${to}`);
        assert.equal(answer.node, `node-${to.slice('echo-'.length)}`, `${from} -> ${to}`);
      }
    }
  }

  /**
   * Sends 10 MB of random bytes over one TCP connection from `from` to `to` (retried until a
   * send succeeds) and asserts that what arrived is byte for byte what was sent (by md5).
   */
  async sendTenMegabytes(from: string, to: string): Promise<void> {
    const port = '9000';
    const sentFile = `/tmp/pn-sent-${this.name}`;
    const receiver = await podListener(this.name, to, port, 'md5sum >&2', 60);
    await until('the 10 MB send to succeed', () => {
      const r = this.exec(from, [
        'timeout',
        '40',
        'sh',
        '-c',
        `head -c 10485760 /dev/urandom | tee ${sentFile} | busybox nc ${this.ip(to)} ${port}`,
      ]);
      return r.status === 0 ? true : undefined;
    });
    const { code, stderr } = await receiver.done;
    assert.equal(code, 0, stderr);
    const sent = this.exec(from, ['sh', '-c', `md5sum < ${sentFile}; rm -f ${sentFile}`]);
    assert.equal(stderr.trim().split(/\s+/)[0], sent.stdout.trim().split(/\s+/)[0]);
  }

  ping(from: string, to: string, extra: string[] = []): ReturnType<typeof podnet> {
    return this.exec(from, ['timeout', '10', 'busybox', 'ping', '-c', '3', ...extra, this.ip(to)]);
  }
}

/**
 * An EchoLab shared by the tests of one file: brought up before them (after sweeping what dead
 * test runs left behind) and taken down after them.
 */
export function echoLabForFile(flags: string[]): EchoLab {
  const echo = new EchoLab(flags);
  before(async () => {
    sweepLeftovers();
    await echo.up();
  });
  after(() => echo.down());
  return echo;
}

/** Starts `argv` as a child process with this test process as lab owner; resolves on exit. */
export function startChild(argv: string[]): {
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  kill: () => void;
  stderr: () => string;
} {
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, PODNET_LAB_OWNER_PID: String(process.pid) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { done, kill: () => child.kill('SIGINT'), stderr: () => stderr };
}

/**
 * A one-connection TCP listener in pod `pod` of lab `lab` (busybox nc) that hands the
 * connection to `script` as its stdin; busybox nc leaves stderr alone, so what the script
 * writes there comes back as this child's stderr. Bounded by `seconds`; resolves once it listens.
 */
export async function podListener(
  lab: string,
  pod: string,
  port: string,
  script: string,
  seconds: number,
): Promise<ReturnType<typeof startChild>> {
  const listener = startChild([
    PODNET,
    'lab',
    'exec',
    '--name',
    lab,
    pod,
    '--',
    'timeout',
    String(seconds),
    'busybox',
    'nc',
    '-l',
    '-p',
    port,
    '-e',
    'sh',
    '-c',
    script,
  ]);
  await until(`${pod} to listen on ${port}`, () =>
    podExec(lab, pod, ['busybox', 'netstat', '-ltn']).stdout.includes(`:${port} `)
      ? true
      : undefined,
  );
  return listener;
}

/** `script` run by sh in pod `from` of lab `lab`, as a child of this test (a sender, say). */
export function podSender(
  lab: string,
  from: string,
  script: string,
): ReturnType<typeof startChild> {
  return startChild([PODNET, 'lab', 'exec', '--name', lab, from, '--', 'sh', '-c', script]);
}

/**
 * tcpdump on `iface` of namespace `ns`, bounded to 20 s, already listening when this resolves.
 * `stop()` lets the last replies reach the wire, ends the capture and returns what it printed.
 */
export async function startCapture(
  ns: string,
  iface: string,
  filter: string,
  flags: string[] = [],
): Promise<{ stop: () => Promise<string> }> {
  const td = startChild([
    'timeout',
    '20',
    'ip',
    'netns',
    'exec',
    ns,
    'tcpdump',
    '-i',
    iface,
    '-n',
    '-l',
    ...flags,
    filter,
  ]);
  await until('tcpdump to listen', () => (td.stderr().includes('listening on') ? true : undefined));
  return {
    stop: async () => {
      await new Promise((r) => setTimeout(r, 300));
      td.kill();
      return (await td.done).stdout;
    },
  };
}

/**
 * Packets matching `filter` on eth0 of host namespace `ns` while `during` runs: one line per
 * packet, without the decoded inner packet of an encapsulation (tcpdump prints that on
 * continuation lines, which carry no timestamp).
 */
export async function capture(ns: string, filter: string, during: () => void): Promise<string[]> {
  const td = await startCapture(ns, 'eth0', filter, ['-tt', '-c', '50']);
  during();
  const stdout = await td.stop();
  return stdout.split('\n').filter((l) => /^\d+\.\d+ /.test(l));
}
