// Conntrack cleanup. UDP has no connection end: after an endpoint goes away, entries that
// still translate to it keep clients sending to a dead pod until they time out. They are
// deleted by one long-lived podnet-conntrack-clean per namespace (a small C program `make
// build` compiles): a cleanup starts no process, and the kernel sends only the entries asked
// for rather than the whole table, so a killed DNS pod's flows go in milliseconds even on a
// busy host. Its answer to a request line is `ok DELETED` or `error MESSAGE`.
import { tryParseIP } from '../net/index.js';
import { OperationError } from '../util/errors.js';
import { LineHelper } from './line-helper.js';

/** Built by `make build` beside the CNI shim (dist/bin/). */
const PROGRAM = new URL('../../bin/podnet-conntrack-clean', import.meta.url).pathname;

const PROTOCOL_NUMBERS = { udp: 17, sctp: 132 } as const;

export interface StaleFlow {
  protocol: 'udp' | 'sctp';
  /** Original destination: a cluster IP, or undefined for a node port (any local address). */
  serviceIP?: string;
  /** Original destination port (service port or node port). */
  port: number;
  /** The endpoint the entries were translated to. */
  endpointIP: string;
}

/**
 * The request line for one stale flow: family, protocol number, original destination (`-`
 * for any), port, and the endpoint as the reply's source (where the entry was translated to).
 */
export function cleanRequest(f: StaleFlow): string {
  const family = tryParseIP(f.endpointIP)?.family;
  if (family === undefined) throw new OperationError(`not an endpoint address: ${f.endpointIP}`);
  const fields = [family, PROTOCOL_NUMBERS[f.protocol], f.serviceIP ?? '-', f.port, f.endpointIP];
  return `${fields.join(' ')}\n`;
}

/** Deletes the entries of `flow` through `helper`; resolves with how many there were. */
async function deleteFlow(helper: LineHelper, flow: StaleFlow): Promise<number> {
  const answer = await helper.request(cleanRequest(flow));
  const ok = /^ok (\d+)$/.exec(answer);
  if (!ok) throw new OperationError(`conntrack cleanup: ${answer.replace(/^error /, '')}`);
  return Number(ok[1]);
}

/** One cleaner per namespace for the whole process: the proxy's loops of both modes share it. */
const cleaners = new Map<string, LineHelper>();

function cleanerFor(netns: string | undefined): LineHelper {
  const key = netns ?? '';
  let cleaner = cleaners.get(key);
  if (!cleaner) cleaners.set(key, (cleaner = new LineHelper(PROGRAM, netns)));
  return cleaner;
}

/** conntrack cleanup bound to one network namespace: what the proxy's sync loop is given. */
export function conntrackKernel(netns?: string): {
  /** Deletes the entries of each stale flow; "nothing to delete" is not an error. */
  deleteStaleFlows(flows: StaleFlow[]): Promise<void>;
  prepare(): void;
} {
  return {
    prepare: () => cleanerFor(netns).prepare(),
    async deleteStaleFlows(flows) {
      const cleaner = cleanerFor(netns);
      await Promise.all(flows.map((f) => deleteFlow(cleaner, f)));
    },
  };
}
