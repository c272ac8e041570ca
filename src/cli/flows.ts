// `podnet flows [-n NS] [--pod P] [--service S] [--verdict V] [-f] [-o json]`: the connections
// every agent saw, one line each (oldest first), from each agent's GET /flows. In a lab the
// agents are its hosts'; on a host, the agent of this host. -f keeps asking each agent for
// what changed since its last answer.
import type { Command } from 'commander';
import { VERDICTS, flowLine, matchesFlow, type FlowFilter } from '../flows/filter.js';
import type { Flow, FlowPage, FlowVerdict } from '../flows/types.js';
import { errorMessage, OperationError, UsageError } from '../util/errors.js';
import { labFor, labInfo, requireRoot } from './context.js';
import { outputOption } from './output.js';

const FOLLOW_MS = 1000;
const LOCAL_AGENT = '127.0.0.1:9101';

interface Agent {
  node: string;
  address: string;
  netns?: string;
  /** The agent's sequence number at its last answer. */
  seq: number;
}

interface FlowsOptions {
  namespace?: string;
  pod?: string;
  service?: string;
  verdict?: string;
  follow?: boolean;
  output?: string;
}

export function registerFlows(program: Command): void {
  program
    .command('flows')
    .description('the connections the agents saw: pods, services, path, verdict and bytes')
    .option('-n, --namespace <ns>', 'only flows with a pod or service in this namespace')
    .option('--pod <name>', 'only flows from or to this pod (NAME or NS/NAME)')
    .option('--service <name>', 'only flows through this service (NAME or NS/NAME)')
    .option('--verdict <verdict>', `only flows with this verdict (${VERDICTS.join(', ')})`)
    .option('-f, --follow', 'keep printing flows as they begin and end')
    .addOption(outputOption(['json']))
    .action(async (opts: FlowsOptions, cmd: Command) => {
      requireRoot('podnet flows');
      const filter = parseFilter(opts);
      const agents = await findAgents(labFor(cmd));
      const { getAgentJson } = await import('../kernel/agent-http.js');
      const poll = async (): Promise<Flow[]> => {
        const pages = await Promise.all(
          agents.map(async (a) => {
            try {
              const page = await getAgentJson<FlowPage>(
                a.address,
                `/flows?since=${a.seq}`,
                a.netns,
              );
              a.seq = page.seq;
              return page.flows;
            } catch (err) {
              process.stderr.write(`podnet flows: agent of ${a.node}: ${errorMessage(err)}\n`);
              return undefined;
            }
          }),
        );
        if (pages.every((p) => p === undefined)) {
          throw new OperationError('no agent answered: are they running? (podnet lab status)');
        }
        return pages
          .flatMap((p) => p ?? [])
          .filter((f) => matchesFlow(f, filter))
          .sort((a, b) => a.start.localeCompare(b.start));
      };
      const flows = await poll();
      if (!opts.follow) {
        if (opts.output === 'json') process.stdout.write(`${JSON.stringify({ flows }, null, 2)}\n`);
        else for (const f of flows) process.stdout.write(`${flowLine(f)}\n`);
        return;
      }
      // Following prints one JSON object per line with -o json (as `hubble observe -f`).
      const print = (f: Flow): void => {
        process.stdout.write(`${opts.output === 'json' ? JSON.stringify(f) : flowLine(f)}\n`);
      };
      flows.forEach(print);
      for (;;) {
        await new Promise((r) => setTimeout(r, FOLLOW_MS));
        (await poll()).forEach(print);
      }
    });
}

function parseFilter(opts: FlowsOptions): FlowFilter {
  if (opts.verdict !== undefined && !VERDICTS.includes(opts.verdict as FlowVerdict)) {
    throw new UsageError(`--verdict ${opts.verdict}: must be one of ${VERDICTS.join(', ')}`);
  }
  return {
    namespace: opts.namespace,
    pod: opts.pod,
    service: opts.service,
    verdict: opts.verdict as FlowVerdict | undefined,
  };
}

/** Each agent of the lab's hosts, in its namespace; outside a lab, this host's agent. */
async function findAgents(lab: string | undefined): Promise<Agent[]> {
  if (!lab) return [{ node: 'this host', address: LOCAL_AGENT, seq: 0 }];
  const { readLabState } = await import('../lab/state.js');
  const state = readLabState(labInfo(lab)!.stateDir);
  if (!state) throw new UsageError(`--lab ${lab}: no such lab is up (see 'podnet lab status')`);
  return state.hosts.map((h) => ({
    node: h.name,
    address: h.metricsAddress,
    netns: h.netns,
    seq: 0,
  }));
}
