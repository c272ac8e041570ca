// One lab that the tests of a file (or of a describe block) share, with the lifecycle every
// such file wants: leftovers of killed runs swept first, the lab up before the first test and
// down after the last, whatever the tests did; optionally a workload running before the first.
import { after, before } from 'node:test';
import {
  labDown,
  labUp,
  podnetOk,
  runningPodIPs,
  sweepStaleLabs,
  testLabName,
  until,
} from './lab.js';
import { sweepStaleNamespaces } from './names.js';

/** Registers the hooks and returns the lab's name; `flags` are those of `podnet lab up`. */
export function sharedLab(flags: string[] = []): string {
  const name = testLabName();
  before(() => freshLab(name, flags));
  after(() => labDown(name));
  return name;
}

/**
 * A shared lab with a workload: `manifest` is applied once the lab is up, and the tests start
 * when each of `pods` (in `default`) runs and is ready. `podIPs` then holds each one's
 * addresses, primary family first; `onRunning` does what else the tests need first. One hook
 * does it all: node:test does not wait for one top-level async hook before starting the next.
 */
export function sharedLabWithPods(
  flags: string[],
  manifest: string,
  pods: string[],
  onRunning: () => void | Promise<void> = () => undefined,
  timeoutMs = 60_000,
): { name: string; podIPs: Map<string, string[]> } {
  const name = testLabName();
  const podIPs = new Map<string, string[]>();
  before(async () => {
    freshLab(name, flags);
    podnetOk(['--lab', name, 'apply', '-f', '-'], { input: manifest });
    for (const pod of pods) {
      podIPs.set(pod, await until(`pod ${pod} to run`, () => runningPodIPs(name, pod), timeoutMs));
    }
    await onRunning();
  });
  after(() => labDown(name));
  return { name, podIPs };
}

/** Sweeps what killed runs left, then brings the lab up. */
function freshLab(name: string, flags: string[]): void {
  sweepStaleLabs();
  sweepStaleNamespaces();
  labUp(name, flags);
}
