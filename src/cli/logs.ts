// `podnet logs policy`: the connections NetworkPolicy denied, as each node's agent logged them
// (opt-in: the ClusterNetwork annotation podnet.io/policy-log: "true"), oldest first.
import type { Command } from 'commander';
import { DENIED_PATH } from '../agent/policy.js';
import { getAgentJson } from '../kernel/agent-http.js';
import { readLabState } from '../lab/state.js';
import { formatDenied, type DeniedConnection } from '../policy/denied-log.js';
import { OperationError, UsageError, errorMessage } from '../util/errors.js';
import { labFor, resolveLab } from './context.js';

/** Where an agent serves its documents: host:port, and the namespace to ask from in a lab. */
interface AgentAddress {
  node: string;
  address: string;
  netns?: string;
}

function agentAddresses(cmd: Command, node: string | undefined, agent: string): AgentAddress[] {
  if (!labFor(cmd)) {
    return [{ node: node ?? 'this host', address: agent }];
  }
  const lab = readLabState(resolveLab(cmd).stateDir);
  if (!lab) throw new OperationError('the lab has no state file: is it still coming up?');
  const hosts = lab.hosts.filter((h) => node === undefined || h.name === node);
  if (hosts.length === 0) {
    const names = lab.hosts.map((h) => h.name).join(', ');
    throw new UsageError(`--node ${node}: no such node in lab ${lab.name} (nodes: ${names})`);
  }
  return hosts.map((h) => ({
    node: h.name,
    address: h.metricsAddress,
    netns: h.netns,
  }));
}

export function registerLogs(program: Command): void {
  const logs = program.command('logs').description('what the daemons logged');
  logs
    .command('policy')
    .description('connections NetworkPolicy denied (needs ClusterNetwork podnet.io/policy-log)')
    .option('--node <name>', 'only this node (in a lab; default: every node)')
    .option('--agent <host:port>', "the agent's metrics address on this host", '127.0.0.1:9101')
    .option('-o, --output <format>', 'json for one JSON document')
    .action(async (opts: { node?: string; agent: string; output?: string }, cmd: Command) => {
      if (opts.output !== undefined && opts.output !== 'json')
        throw new UsageError(`-o ${opts.output}: the only format is json`);
      const all: (DeniedConnection & { node: string })[] = [];
      for (const agent of agentAddresses(cmd, opts.node, opts.agent)) {
        let denied: DeniedConnection[];
        try {
          denied = await getAgentJson<DeniedConnection[]>(agent.address, DENIED_PATH, agent.netns);
        } catch (err) {
          throw new OperationError(`could not read ${agent.node}'s agent: ${errorMessage(err)}`);
        }
        for (const c of denied) all.push({ ...c, node: agent.node });
      }
      all.sort((a, b) => a.time.localeCompare(b.time));
      if (opts.output === 'json') {
        process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
        return;
      }
      for (const c of all) process.stdout.write(`${c.node} ${formatDenied(c)}\n`);
    });
}
