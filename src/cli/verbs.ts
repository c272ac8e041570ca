// The verb groups of `podnet`, one file each. Add a verb group here and nowhere else.
import type { Command } from 'commander';
import { registerAgent } from './agent.js';
import { registerBgp } from './bgp.js';

type Register = (program: Command) => void;

const verbGroups: Register[] = [registerAgent, registerBgp];

export function registerVerbs(program: Command): void {
  for (const register of verbGroups) register(program);
}
