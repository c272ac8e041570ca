// `lab up`'s map: `podnet ui` for this lab in the machine's own namespace on a free loopback
// port (no token: loopback), so `lab up` and `lab status` can print where to look. Its record
// keeps the port, so `lab repair` starts it again at the same URL.
import { createServer, type AddressInfo } from 'node:net';
import { isRunning, listensOnTcp } from '../process/daemons.js';
import { OperationError } from '../util/errors.js';
import type { LabPlan } from './plan.js';
import { podnetBin } from './paths.js';
import { startProcess } from './supervisor.js';
import { pollUntil } from './wait.js';

export const UI = 'ui';

async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts the map and returns its URL once it serves. */
export async function startLabUi(plan: LabPlan, timeoutMs = 30_000): Promise<string> {
  const port = await freeLoopbackPort();
  const address = `127.0.0.1:${port}`;
  const ui = await startProcess(plan.stateDir, {
    id: UI,
    argv: [podnetBin(), '--lab', plan.name, 'ui', '--listen', address],
  });
  const up = await pollUntil(() => {
    if (!isRunning(ui)) throw new OperationError(`podnet ui exited (log: ${ui.log})`);
    return listensOnTcp(ui.pid, address) ? true : undefined;
  }, timeoutMs);
  if (!up) throw new OperationError(`podnet ui not serving ${address} after ${timeoutMs / 1000}s`);
  return `http://${address}/`;
}
