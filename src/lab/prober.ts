// The pod runner's readiness prober: one timer per probed container, checking as kubelet does
// (from the host, against the pod's address) and telling the runner when a verdict changes,
// so the pod's Ready condition follows at once rather than at the next resync.
import { request as httpGet } from 'node:http';
import { request as httpsGet } from 'node:https';
import { connect } from 'node:net';
import { run } from '../process/run.js';
import {
  UNPROBED,
  afterProbe,
  type ProbeCheck,
  type ProbeState,
  type ProbeTiming,
} from './readiness.js';

export interface ProbedContainer {
  /** Names one run of one container: a restarted container is probed afresh. */
  key: string;
  check: ProbeCheck;
  timing: ProbeTiming;
  /** Where an exec probe runs: the pod's network namespace. */
  netns: string;
}

interface Loop {
  state: ProbeState;
  timer: NodeJS.Timeout;
}

export class ReadinessProber {
  private readonly loops = new Map<string, Loop>();

  constructor(private readonly onChange: () => void) {}

  /** Probes exactly these containers from now on; loops of any others end. */
  track(containers: readonly ProbedContainer[]): void {
    const wanted = new Set(containers.map((c) => c.key));
    for (const [key, loop] of this.loops) {
      if (wanted.has(key)) continue;
      clearTimeout(loop.timer);
      this.loops.delete(key);
    }
    for (const c of containers) {
      if (this.loops.has(c.key)) continue;
      const loop: Loop = {
        state: UNPROBED,
        timer: setTimeout(() => void this.probe(c, loop), c.timing.initialDelayMs),
      };
      this.loops.set(c.key, loop);
    }
  }

  ready(key: string): boolean {
    return this.loops.get(key)?.state.ready ?? false;
  }

  stop(): void {
    for (const loop of this.loops.values()) clearTimeout(loop.timer);
    this.loops.clear();
  }

  private async probe(c: ProbedContainer, loop: Loop): Promise<void> {
    const passed = await passes(c.check, c.timing.timeoutMs, c.netns);
    if (this.loops.get(c.key) !== loop) return;
    const before = loop.state.ready;
    loop.state = afterProbe(loop.state, passed, c.timing);
    loop.timer = setTimeout(() => void this.probe(c, loop), c.timing.periodMs);
    if (loop.state.ready !== before) this.onChange();
  }
}

/** One check: an HTTP answer of 200-399, an accepted connection, a command exiting 0. */
function passes(check: ProbeCheck, timeoutMs: number, netns: string): Promise<boolean> {
  switch (check.kind) {
    case 'unresolved':
      return Promise.resolve(false);
    case 'exec':
      return run(check.argv, { netns, timeoutMs }).then(
        () => true,
        () => false,
      );
    case 'tcp':
      return new Promise((resolve) => {
        const socket = connect({ host: check.host, port: check.port, timeout: timeoutMs });
        const done = (ok: boolean) => {
          socket.destroy();
          resolve(ok);
        };
        socket.once('connect', () => done(true));
        socket.once('timeout', () => done(false));
        socket.once('error', () => done(false));
      });
    case 'http':
      return new Promise((resolve) => {
        const get = check.url.startsWith('https:') ? httpsGet : httpGet;
        // kubelet does not verify a probe's certificate: the probe asks "do you serve", no more.
        // Nor does it keep the connection: each probe is a fresh one, closed after the answer,
        // so a probed server holds no idle connection (nor its host a conntrack entry) between.
        const options = { timeout: timeoutMs, rejectUnauthorized: false, agent: false };
        const req = get(check.url, options, (res) => {
          res.resume();
          const code = res.statusCode ?? 0;
          resolve(code >= 200 && code < 400);
        });
        req.once('timeout', () => req.destroy());
        req.once('error', () => resolve(false));
        req.end();
      });
  }
}
