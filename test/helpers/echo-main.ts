// A tiny responder and client for proxy tests, run inside a pod namespace:
//   node echo-main.js serve NAME PORT [ADDR]   TCP and UDP on ADDR:PORT (0.0.0.0) answer NAME
//   node echo-main.js connect IP PORT N tcp|udp [SRC...]
//   node echo-main.js hold IP PORT SECONDS      one TCP connection, pinged every 100 ms
// `connect` opens N new connections (UDP: N new sockets, so N conntrack flows), cycling over
// the source addresses if given, and prints one JSON line: which NAME answered how often.
// `hold` prints the NAME that first answered, then at the end one JSON line of every answer.
import { createSocket } from 'node:dgram';
import { createConnection, createServer, isIPv6 } from 'node:net';

function serve(name: string, port: number, address = '0.0.0.0'): void {
  let ready = 0;
  const up = (): void => {
    if (++ready === 2) process.stdout.write('ready\n');
  };
  createServer((sock) => {
    sock.on('error', () => sock.destroy());
    sock.write(name);
    sock.on('data', () => sock.write(name));
    sock.on('end', () => sock.end());
  }).listen(port, address, up);
  const udp = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
  udp.on('message', (_msg, from) => udp.send(name, from.port, from.address));
  udp.bind(port, address, up);
}

interface Outcome {
  name?: string;
  error?: string;
  ms: number;
}

function tcpOnce(ip: string, port: number, src: string | undefined): Promise<Outcome> {
  const start = process.hrtime.bigint();
  return new Promise((resolve) => {
    let data = '';
    let connectMs = 0;
    const sock = createConnection({ host: ip, port, localAddress: src, timeout: 3000 });
    // TCP: the time to connect (SYN to SYN-ACK, the first packet's path through the rules).
    sock.on('connect', () => (connectMs = elapsed(start)));
    sock.on('data', (b) => {
      data += b.toString();
      sock.end();
    });
    sock.on('close', () => resolve({ name: data, ms: connectMs }));
    sock.on('timeout', () => {
      sock.destroy();
      resolve({ error: 'ETIMEDOUT', ms: elapsed(start) });
    });
    sock.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code, ms: elapsed(start) }));
  });
}

function udpOnce(ip: string, port: number, src: string | undefined): Promise<Outcome> {
  const start = process.hrtime.bigint();
  return new Promise((resolve) => {
    const sock = createSocket(isIPv6(ip) ? 'udp6' : 'udp4');
    const done = (o: Outcome): void => {
      clearTimeout(timer);
      sock.close();
      resolve(o);
    };
    const timer = setTimeout(() => done({ error: 'ETIMEDOUT', ms: elapsed(start) }), 2000);
    sock.on('message', (msg) => done({ name: msg.toString(), ms: elapsed(start) }));
    sock.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code, ms: elapsed(start) }));
    sock.bind(0, src, () => sock.send('hello', port, ip));
  });
}

function elapsed(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function connect(args: string[]): Promise<void> {
  const [ip, portText, countText, proto, ...sources] = args;
  const once = proto === 'udp' ? udpOnce : tcpOnce;
  const counts: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const bySource: Record<string, Record<string, number>> = {};
  const ms: number[] = [];
  for (let i = 0; i < Number(countText); i++) {
    const src = sources.length ? sources[i % sources.length] : undefined;
    const o = await once(ip!, Number(portText), src);
    ms.push(o.ms);
    if (o.name) {
      counts[o.name] = (counts[o.name] ?? 0) + 1;
      if (src) (bySource[src] ??= {})[o.name] = (bySource[src]?.[o.name] ?? 0) + 1;
    } else errors[o.error ?? 'unknown'] = (errors[o.error ?? 'unknown'] ?? 0) + 1;
  }
  process.stdout.write(`${JSON.stringify({ counts, errors, bySource, ms })}\n`);
}

/** One long-lived connection: which backends answered its pings, and whether it broke. */
function hold(ip: string, port: number, seconds: number): void {
  const answers: Record<string, number> = {};
  let error: string | undefined;
  let first = true;
  const sock = createConnection({ host: ip, port });
  const ping = setInterval(() => sock.write('ping'), 100);
  sock.on('data', (b) => {
    const name = b.toString();
    answers[name] = (answers[name] ?? 0) + 1;
    if (first) process.stdout.write(`${name}\n`);
    first = false;
  });
  sock.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
  setTimeout(() => {
    clearInterval(ping);
    sock.destroy();
    process.stdout.write(`${JSON.stringify({ answers, error })}\n`);
  }, seconds * 1000);
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'serve') serve(rest[0]!, Number(rest[1]), rest[2]);
else if (mode === 'connect') await connect(rest);
else if (mode === 'hold') hold(rest[0]!, Number(rest[1]), Number(rest[2]));
else {
  process.stderr.write(
    'usage: echo-main serve NAME PORT [ADDR] | connect IP PORT N tcp|udp [SRC...] | hold IP PORT SECONDS\n',
  );
  process.exit(2);
}
