// TCP-MD5 (RFC 2385) for BGP sessions. Node.js cannot set TCP_MD5SIG on its sockets, so the
// native helper podnet-bgp-md5 (src/bgp/md5/) owns the TCP side: it listens with each keyed
// peer's key set and makes outgoing connections with it, relaying the bytes to the speaker over
// two unix sockets. Keys reach it on stdin, never on its command line; stdin stays open so that
// keys can change while it runs.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { OperationError } from '../util/errors.js';

/** The helper `make build` compiles (dist/bin/podnet-bgp-md5). */
const HELPER = new URL('../../bin/podnet-bgp-md5', import.meta.url).pathname;

export interface TcpMd5Options {
  /** Where peers connect to (IPv4 or IPv6; 0.0.0.0 or :: for any) and on which port. */
  listenAddress: string;
  listenPort: number;
  /** Peer address → its key (1 to 80 bytes). */
  keys: ReadonlyMap<string, string>;
  /** A directory of this speaker's own for the two unix sockets. */
  dir: string;
}

export interface TcpMd5Relay {
  /** Where the speaker listens: each connection starts with the line "PEER\n", then BGP. */
  speakerSocket: string;
  /** Where the speaker connects out: it writes "PEER PORT LOCAL\n" (LOCAL "-" for any), then BGP. */
  controlSocket: string;
  /** The helper's process id. */
  pid: number;
  /**
   * Makes the helper's keys exactly `keys`. Open connections keep the key they were made with:
   * the speaker drops the sessions of peers whose key changed.
   */
  setKeys(keys: ReadonlyMap<string, string>): void;
  /** Settles when the helper has exited, with why (its last words, or its exit status). */
  exited: Promise<string>;
  stop(): Promise<void>;
}

/** The stdin lines that turn the helper's keys `from` into `to` ("ADDRESS" alone removes). */
export function keyChangeLines(
  from: ReadonlyMap<string, string>,
  to: ReadonlyMap<string, string>,
): string {
  const lines: string[] = [];
  for (const peer of from.keys()) if (!to.has(peer)) lines.push(`${peer}\n`);
  for (const [peer, key] of to) if (from.get(peer) !== key) lines.push(`${peer} ${key}\n`);
  return lines.join('');
}

/** Starts the helper; resolves once it listens. The speaker must listen on speakerSocket. */
export function startTcpMd5Relay(opts: TcpMd5Options): Promise<TcpMd5Relay> {
  const speakerSocket = join(opts.dir, 'bgp-md5-speaker.sock');
  const controlSocket = join(opts.dir, 'bgp-md5-control.sock');
  const helper = spawn(
    HELPER,
    [opts.listenAddress, String(opts.listenPort), speakerSocket, controlSocket],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  helper.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  // A helper that died makes writes to its stdin fail; its exit is what reports that.
  helper.stdin.on('error', () => undefined);
  const exited = new Promise<string>((resolve) =>
    helper.once('exit', (code, signal) =>
      resolve(stderr.trim() || `TCP-MD5 helper exited (${signal ?? `status ${code}`})`),
    ),
  );
  let keys: ReadonlyMap<string, string> = new Map();
  const setKeys = (next: ReadonlyMap<string, string>): void => {
    const lines = keyChangeLines(keys, next);
    keys = new Map(next);
    if (lines && helper.stdin.writable) helper.stdin.write(lines);
  };
  // The first keys end with an empty line; the helper listens only after reading them.
  helper.stdin.write(keyChangeLines(new Map(), opts.keys) + '\n');
  keys = new Map(opts.keys);
  return new Promise((resolve, reject) => {
    helper.once('error', (err) =>
      reject(new OperationError(`cannot start ${HELPER}: ${err.message}`)),
    );
    void exited.then((why) => reject(new OperationError(`TCP-MD5 helper failed: ${why}`)));
    helper.stdout.once('data', () =>
      resolve({
        speakerSocket,
        controlSocket,
        pid: helper.pid!,
        setKeys,
        exited,
        stop: async () => {
          if (helper.exitCode === null && helper.signalCode === null) helper.kill('SIGTERM');
          await exited;
        },
      }),
    );
  });
}
