// TCP-MD5 (RFC 2385) for BGP sessions. Node.js cannot set TCP_MD5SIG on its sockets, so the
// native helper podnet-bgp-md5 (src/bgp/md5/) owns the TCP side: it listens with each keyed
// peer's key set and makes outgoing connections with it, relaying the bytes to the speaker over
// two unix sockets. Keys reach it on stdin, never on its command line.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { OperationError } from '../util/errors.js';

/** The helper `make build` compiles (dist/bin/podnet-bgp-md5). */
const HELPER = new URL('../../bin/podnet-bgp-md5', import.meta.url).pathname;

export interface TcpMd5Options {
  /** Where peers connect to (IPv4; 0.0.0.0 for any) and on which port. */
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
  stop(): Promise<void>;
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
  const exited = new Promise<void>((resolve) => helper.once('exit', () => resolve()));
  helper.stdin.end([...opts.keys].map(([peer, key]) => `${peer} ${key}\n`).join(''));
  return new Promise((resolve, reject) => {
    helper.once('error', (err) =>
      reject(new OperationError(`cannot start ${HELPER}: ${err.message}`)),
    );
    void exited.then(() =>
      reject(new OperationError(`TCP-MD5 helper failed: ${stderr.trim() || 'exited'}`)),
    );
    helper.stdout.once('data', () =>
      resolve({
        speakerSocket,
        controlSocket,
        stop: async () => {
          if (helper.exitCode === null && helper.signalCode === null) helper.kill('SIGTERM');
          await exited;
        },
      }),
    );
  });
}
