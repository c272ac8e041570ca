// What every verb needs to find: the cluster store (an explicit --store, PODNET_STORE, or the
// lab that is up), root privileges where the kernel is touched, and output formats.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../util/errors.js';
import { IN_CLUSTER, kubernetesUrl } from '../kube/url.js';

/** Where labs keep their state (docs/conventions.md, "Files and sockets"). */
export const LABS_DIR = process.env.PODNET_LABS_DIR ?? '/run/podnet/labs';

/** The part of a lab's state file (`lab.json`) that other verbs read. */
export interface LabInfo {
  name: string;
  storeUrl: string;
  stateDir: string;
}

export function labInfo(name: string): LabInfo | undefined {
  const file = join(LABS_DIR, name, 'lab.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as LabInfo;
}

export function labsUp(): string[] {
  if (!existsSync(LABS_DIR)) return [];
  return readdirSync(LABS_DIR).filter((n) => existsSync(join(LABS_DIR, n, 'lab.json')));
}

/** Global options, wherever on the command line they were given. */
export function globalOptions(cmd: Command): {
  store?: string;
  lab?: string;
  kubeconfig?: string;
  inCluster?: boolean;
  apiServer?: string;
} {
  return cmd.optsWithGlobals();
}

/** The lab `--lab NAME` names; a name that is not up is bad input, never silently ignored. */
function namedLab(lab: string): LabInfo {
  const info = labInfo(lab);
  if (!info) throw new UsageError(`--lab ${lab}: no such lab is up (see 'podnet lab status')`);
  return info;
}

/**
 * The store URL a verb should use: --store, then --lab NAME (a flag outranks the environment),
 * then PODNET_STORE, then the one lab that is up. Says what to do when none of these applies.
 */
export function resolveStoreUrl(cmd: Command): string {
  const { store, lab, kubeconfig, inCluster, apiServer } = globalOptions(cmd);
  if (kubeconfig || inCluster) {
    if (store || lab || (kubeconfig && inCluster)) {
      throw new UsageError(
        '--kubeconfig, --in-cluster, --store and --lab each name a cluster: give one of them',
      );
    }
    return kubernetesUrl(kubeconfig ?? IN_CLUSTER, apiServer);
  }
  if (apiServer) throw new UsageError('--api-server: give it with --kubeconfig or --in-cluster');
  if (store && lab) {
    throw new UsageError(`--store and --lab ${lab} both name a store: give one of them`);
  }
  if (store) return store;
  if (lab) return namedLab(lab).storeUrl;
  if (process.env.PODNET_STORE) return process.env.PODNET_STORE;
  const up = labsUp();
  if (up.length === 1) return labInfo(up[0]!)!.storeUrl;
  if (up.length > 1) {
    throw new UsageError(`several labs are up (${up.join(', ')}): pick one with --lab NAME`);
  }
  throw new UsageError(
    "no cluster store: start a lab with 'podnet lab up', or give --store URL or PODNET_STORE",
  );
}

/** The lab a verb should act on: --lab NAME, or the one lab that is up. */
export function resolveLab(cmd: Command): LabInfo {
  const { lab } = globalOptions(cmd);
  if (lab) return namedLab(lab);
  const up = labsUp();
  if (up.length === 1) return labInfo(up[0]!)!;
  if (up.length > 1)
    throw new UsageError(`several labs are up (${up.join(', ')}): pick one with --lab NAME`);
  throw new UsageError("no lab is up: start one with 'podnet lab up'");
}

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new UsageError(`${what} needs root (it changes network namespaces): run it with sudo`);
  }
}

/** Parses a positive integer flag, naming the flag when it is not one. */
export function parseCount(flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new UsageError(`${flag} ${value}: must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/** The lab a host-level verb acts on, if any: --lab, or the one lab up when no store is given. */
export function labFor(cmd: Command): string | undefined {
  const { store, lab } = globalOptions(cmd);
  if (lab) return namedLab(lab).name;
  if (store || process.env.PODNET_STORE) return undefined;
  const up = labsUp();
  return up.length === 1 ? up[0] : undefined;
}

/**
 * The lab a lab verb names: its own --name (when given on the command line) or the global
 * --lab; both given and different is bad input rather than a guess.
 */
export function labNameGiven(cmd: Command): string | undefined {
  const { lab } = globalOptions(cmd);
  const name =
    cmd.getOptionValueSource('name') === 'cli' ? (cmd.opts() as { name: string }).name : undefined;
  if (name !== undefined && lab !== undefined && name !== lab) {
    throw new UsageError(`--name ${name} and --lab ${lab} name different labs: give one of them`);
  }
  return name ?? lab;
}
