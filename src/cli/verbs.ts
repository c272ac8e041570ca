// The verb groups of `podnet`, one file each. Add a verb group here and nowhere else.
import type { Command } from 'commander';
import { registerAgent } from './agent.js';
import { registerDns } from './dns.js';

type Register = (program: Command) => void;

const verbGroups: Register[] = [registerAgent, registerDns];

export function registerVerbs(program: Command): void {
  for (const register of verbGroups) register(program);
}
