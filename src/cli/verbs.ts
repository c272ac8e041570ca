// The verb groups of `podnet`, one file each. Add a verb group here and nowhere else.
import type { Command } from 'commander';
import { registerAgent } from './agent.js';
import { registerApiServer } from './apiserver.js';
import { registerBgp } from './bgp.js';
import { registerDemo } from './demo.js';
import { registerDoctor } from './doctor.js';
import { registerFlows } from './flows.js';
import { registerTrace } from './trace.js';
import { registerCni } from './cni.js';
import { registerDns } from './dns.js';
import { registerInstall } from './install.js';
import { registerLab } from './lab.js';
import { registerLogs } from './logs.js';
import { registerObjects } from './objects.js';
import { registerPlan } from './plan.js';
import { registerServeEcho } from './serve-echo.js';
import { registerWireguard } from './wireguard.js';
import { registerUi } from './ui.js';

type Register = (program: Command) => void;

const verbGroups: Register[] = [
  registerAgent,
  registerObjects,
  registerCni,
  registerLab,
  registerServeEcho,
  registerPlan,
  registerBgp,
  registerDns,
  registerDemo,
  registerDoctor,
  registerTrace,
  registerFlows,
  registerApiServer,
  registerInstall,
  registerWireguard,
  registerLogs,
  registerUi,
];

export function registerVerbs(program: Command): void {
  for (const register of verbGroups) register(program);
}
