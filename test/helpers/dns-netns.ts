// Two network namespaces joined by a veth pair: a DNS server's and a client's
// (192.0.2.1 and 192.0.2.2, documentation addresses that never leave the pair); and the dig and
// the DNS server DNS tests run inside namespaces.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { deleteNamespace, uniqueName } from './names.js';

export const SERVER_IP = '192.0.2.1';
export const CLIENT_IP = '192.0.2.2';

export interface NamespacePair {
  serverNs: string;
  clientNs: string;
  remove(): void;
}

export function namespacePair(): NamespacePair {
  const serverNs = uniqueName('dnss');
  const clientNs = uniqueName('dnsc');
  const batch = (ns: string, lines: string[]): void => {
    execFileSync('ip', ['-n', ns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
  };
  for (const ns of [serverNs, clientNs]) execFileSync('ip', ['netns', 'add', ns]);
  batch(serverNs, [
    'link set lo up',
    `link add eth0 type veth peer name eth0 netns ${clientNs}`,
    `addr add ${SERVER_IP}/24 dev eth0`,
    'link set eth0 up',
  ]);
  batch(clientNs, ['link set lo up', `addr add ${CLIENT_IP}/24 dev eth0`, 'link set eth0 up']);
  return {
    serverNs,
    clientNs,
    remove: () => {
      deleteNamespace(serverNs);
      deleteNamespace(clientNs);
    },
  };
}

/** `dig @server ARGS` in namespace `ns`; `time` (seconds a try) and `tries` bound the wait. */
export function digIn(
  ns: string,
  server: string,
  args: string[],
  { time, tries } = { time: 2, tries: 2 },
): string {
  return execFileSync(
    'ip',
    ['netns', 'exec', ns, 'dig', `@${server}`, `+time=${time}`, `+tries=${tries}`, ...args],
    { encoding: 'utf8' },
  );
}

/** Node running `args` (a script file, or `-e` and code) in namespace `ns`; its stdout. */
export function nodeIn(ns: string, args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, process.execPath, ...args], { encoding: 'utf8' });
}

/**
 * podnet's DNS server (dns-serve.js: one worker on port 53) in namespace `ns`, answering for the
 * objects in `objectsFile` and forwarding other names to `upstream` (host:port).
 */
export function spawnDnsServe(ns: string, objectsFile: string, upstream: string): ChildProcess {
  const serve = new URL('./dns-serve.js', import.meta.url).pathname;
  return spawn(
    'ip',
    ['netns', 'exec', ns, process.execPath, serve, objectsFile, '53', '1', upstream],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}
