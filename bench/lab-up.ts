// `podnet lab up` and `lab down` wall time, as the integration suite pays it (a 3-host IPv4 lab,
// the tests' default) and `make demo` does. There is no outside anchor for a lab: ANCHOR names
// another podnet tree's bin/podnet (e.g. main's HEAD, built once) and the two are run in the
// same rounds, alternating which goes first, so machine noise falls on both alike.
//
//   ANCHOR=/tmp/podnet-main/bin/podnet ROUNDS=5 node dist/bench/lab-up.js
//
// Each podnet lab's own log says where its time went (logs/lab.log, 'lab ready'): the median
// of each phase is printed too.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { LABS_DIR, PODNET, sweepStaleLabs } from '../test/helpers/lab.js';
import { sweepStaleNamespaces, uniqueName } from '../test/helpers/names.js';
import { median, range } from './lib/stats.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const ANCHOR = process.env.ANCHOR;
const FLAGS = (process.env.FLAGS ?? '--ip-family ipv4').split(' ').filter(Boolean);

interface Run {
  upMs: number;
  downMs: number;
  phases: Record<string, number>;
}

function timed(bin: string, args: string[]): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(bin, args, {
    encoding: 'utf8',
    timeout: 180_000,
    env: { ...process.env, PODNET_LAB_OWNER_PID: String(process.pid) },
  });
  if (r.status !== 0) {
    throw new Error(`${bin} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  }
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** The phases of the lab's 'lab ready' line (the anchor's tree may not write one). */
function labPhases(name: string): Record<string, number> {
  try {
    const lines = readFileSync(join(LABS_DIR, name, 'logs', 'lab.log'), 'utf8').split('\n');
    const ready = lines.map((l) => (l ? JSON.parse(l) : {})).find((o) => o.msg === 'lab ready');
    return (ready?.phases as Record<string, number>) ?? {};
  } catch {
    return {};
  }
}

function oneLab(bin: string): Run {
  const name = uniqueName();
  const upMs = timed(bin, ['lab', 'up', '--name', name, ...FLAGS]);
  const phases = labPhases(name);
  const downMs = timed(bin, ['lab', 'down', '--name', name]);
  return { upMs, downMs, phases };
}

function main(): void {
  sweepStaleLabs();
  sweepStaleNamespaces();
  const load = loadavg()[0]!.toFixed(2);
  const ours: Run[] = [];
  const anchor: Run[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order: [string, Run[]][] = [[PODNET, ours]];
    if (ANCHOR) order.splice(round % 2, 0, [ANCHOR, anchor]);
    for (const [bin, runs] of order) runs.push(oneLab(bin));
    const last = (runs: Run[]) => runs[runs.length - 1];
    const a = last(anchor);
    console.log(
      `round ${round + 1}: podnet up ${last(ours)!.upMs.toFixed(0)} ms, down ${last(ours)!.downMs.toFixed(0)} ms` +
        (a ? `; anchor up ${a.upMs.toFixed(0)} ms, down ${a.downMs.toFixed(0)} ms` : ''),
    );
  }
  const names = [...new Set(ours.flatMap((r) => Object.keys(r.phases)))];
  for (const phase of names) {
    const ms = ours.map((r) => r.phases[phase]).filter((v): v is number => v !== undefined);
    console.log(`  phase ${phase}: median ${median(ms)} ms (${range(ms, 0)})`);
  }
  console.log(`load average at start: ${load}, now: ${loadavg()[0]!.toFixed(2)}`);
  for (const [figure, pick] of [
    ['lab-up up_ms', (r: Run) => r.upMs],
    ['lab-down down_ms', (r: Run) => r.downMs],
  ] as const) {
    const ms = ours.map(pick);
    let line = `BENCH ${figure}=${median(ms).toFixed(0)} spread=${range(ms, 0)}`;
    if (anchor.length > 0) {
      const base = anchor.map(pick);
      line += ` anchor=${median(base).toFixed(0)} anchor_spread=${range(base, 0)}`;
      line += ` ratio=${(median(ms) / median(base)).toFixed(2)}`;
    }
    console.log(`${line} rounds=${ROUNDS} load=${load}`);
  }
}

main();
