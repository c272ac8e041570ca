// The prober the NetworkPolicy lab runs inside a pod's network namespace, long-lived so that a
// matrix of probes costs no process starts:
//   node netpol-probe-main.js serve       lines `ID TCP|UDP IP PORT TIMEOUT_MS` in, `ID 1|0` out
//   node netpol-probe-main.js first-contact IP PORT
//       waits for this namespace's pod address, then connects (TCP) in a tight loop until one
//       succeeds; prints {"ms": time from the address appearing to the first answer}
// TCP: reachable when the connection is accepted; UDP: when the echo answers the datagram.
import { createSocket } from 'node:dgram';
import { createConnection } from 'node:net';
import { networkInterfaces } from 'node:os';
import { createInterface } from 'node:readline';

function tcp(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: ip, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('connect', () => done(true));
    sock.on('error', () => done(false));
  });
}

function udp(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('message', () => done(true));
    sock.on('error', () => done(false));
    sock.send('probe', port, ip);
  });
}

function probe(protocol: string, ip: string, port: number, timeoutMs: number): Promise<boolean> {
  return protocol === 'UDP' ? udp(ip, port, timeoutMs) : tcp(ip, port, timeoutMs);
}

function podAddress(): string | undefined {
  for (const [name, addrs] of Object.entries(networkInterfaces()))
    if (name !== 'lo') for (const a of addrs ?? []) if (a.family === 'IPv4') return a.address;
  return undefined;
}

async function firstContact(ip: string, port: number): Promise<void> {
  while (!podAddress()) await new Promise((r) => setTimeout(r, 5));
  const start = Date.now();
  while (Date.now() - start < 10_000) {
    if (await tcp(ip, port, 100)) {
      process.stdout.write(`${JSON.stringify({ ms: Date.now() - start })}\n`);
      return;
    }
  }
  process.stdout.write(`${JSON.stringify({ ms: null })}\n`);
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'first-contact') {
  void firstContact(args[0]!, Number(args[1]));
} else {
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [id, protocol, ip, port, timeout] = line.trim().split(' ');
    void probe(protocol!, ip!, Number(port), Number(timeout)).then((ok) =>
      process.stdout.write(`${id} ${ok ? 1 : 0}\n`),
    );
  });
  process.stdout.write('ready\n');
}
