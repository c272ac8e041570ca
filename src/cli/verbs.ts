// The verb groups of `podnet`, one file each. Add a verb group here and nowhere else.
// A command line loads only the groups whose verbs it names: every `podnet get` a script or a
// test polls with would otherwise load the whole program (the agent's, the lab's and the
// planner's modules) to print one object.
import type { Command } from 'commander';

type Register = (program: Command) => void;

interface VerbGroup {
  /** The top-level verbs the group registers. */
  verbs: readonly string[];
  load(): Promise<Register>;
}

const verbGroups: readonly VerbGroup[] = [
  { verbs: ['agent'], load: async () => (await import('./agent.js')).registerAgent },
  {
    verbs: ['apply', 'get', 'delete', 'repair'],
    load: async () => (await import('./objects.js')).registerObjects,
  },
  { verbs: ['cni'], load: async () => (await import('./cni.js')).registerCni },
  { verbs: ['lab'], load: async () => (await import('./lab.js')).registerLab },
  { verbs: ['serve-echo'], load: async () => (await import('./serve-echo.js')).registerServeEcho },
  { verbs: ['plan'], load: async () => (await import('./plan.js')).registerPlan },
  { verbs: ['bgp'], load: async () => (await import('./bgp.js')).registerBgp },
  { verbs: ['dns'], load: async () => (await import('./dns.js')).registerDns },
  { verbs: ['demo'], load: async () => (await import('./demo.js')).registerDemo },
  { verbs: ['doctor'], load: async () => (await import('./doctor.js')).registerDoctor },
  { verbs: ['trace'], load: async () => (await import('./trace.js')).registerTrace },
  { verbs: ['flows'], load: async () => (await import('./flows.js')).registerFlows },
  { verbs: ['apiserver'], load: async () => (await import('./apiserver.js')).registerApiServer },
  { verbs: ['install'], load: async () => (await import('./install.js')).registerInstall },
  { verbs: ['wireguard'], load: async () => (await import('./wireguard.js')).registerWireguard },
  { verbs: ['logs'], load: async () => (await import('./logs.js')).registerLogs },
  { verbs: ['ui'], load: async () => (await import('./ui.js')).registerUi },
];

/**
 * Registers the groups any of whose verbs appear among `args` (an option's value that happens
 * to be a verb only loads one group more); every group when none does, so that help, and the
 * suggestion for a mistyped verb, know them all.
 */
export async function registerVerbs(program: Command, args: readonly string[]): Promise<void> {
  const words = new Set(args);
  const named = verbGroups.filter((g) => g.verbs.some((v) => words.has(v)));
  const groups = named.length > 0 ? named : verbGroups;
  const registers = await Promise.all(groups.map((g) => g.load()));
  for (const register of registers) register(program);
}
