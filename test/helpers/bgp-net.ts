// A small network for BGP tests: one L2 segment (a bridge in a hub namespace) and hosts as
// namespaces on it, 172.30.0.<i+1>/24 each, plus the daemons that run inside them: podnet's
// speaker, BIRD and GoBGP. Everything lives in namespaces named by uniqueName(); close()
// kills what was started (by pid) and removes the namespaces.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deleteNamespace, uniqueName } from './names.js';
import { fetchStatus } from '../../src/bgp/daemon.js';
import { bgpdArgv, zebraArgv, zservSocket } from '../../src/lab/fabric.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function inNs(ns: string, argv: string[], input?: string): string {
  return execFileSync('nsenter', [`--net=/run/netns/${ns}`, '--', ...argv], {
    encoding: 'utf8',
    input: input ?? '',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 30000,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Daemon {
  proc: ChildProcess;
  /** Output so far, for failure messages. */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

function startDaemon(ns: string, argv: string[]): Daemon {
  const proc = spawn('nsenter', [`--net=/run/netns/${ns}`, '--', ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20000)));
  proc.stderr!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20000)));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc,
    output: () => out,
    kill: async (signal = 'SIGKILL') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

export interface SpeakerHandle extends Daemon {
  socket: string;
  status(withRoutes?: boolean): ReturnType<typeof fetchStatus>;
  /** Loc-RIB learnt routes as prefix → next hop. */
  learned(): Promise<Record<string, string>>;
}

export class BgpNet {
  readonly hub = uniqueName('hub');
  readonly hosts: string[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'pnt-bgp-'));
  private readonly daemons: Daemon[] = [];

  private readonly addresses: string[] = [];

  /**
   * `hostCount` hosts on one segment (172.30.0.0/24), or, with `zones`, that many hosts per
   * zone z on 172.31.z.0/24 (bridge brZ) and a router as the last host, at 172.31.z.254 on
   * every zone, forwarding between them.
   */
  constructor(hostCount: number, zones?: number[]) {
    ip('netns', 'add', this.hub);
    if (!zones) {
      this.bridge('br0');
      for (let i = 0; i < hostCount; i++) this.addHost();
      return;
    }
    zones.forEach((count, z) => {
      this.bridge(`br${z + 1}`);
      for (let k = 0; k < count; k++) this.addHost(`br${z + 1}`, `172.31.${z + 1}.${k + 1}`);
    });
    const router = this.newNamespace('rtr');
    zones.forEach((_, z) => this.plug(router, `br${z + 1}`, `eth${z + 1}`, `172.31.${z + 1}.254`));
    inNs(router, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  }

  /** Address of host i on its segment. */
  address(i: number): string {
    return this.addresses[i]!;
  }

  /** Index of the router (zoned layout). */
  get router(): number {
    return this.hosts.length - 1;
  }

  addHost(bridge = 'br0', address = `172.30.0.${this.hosts.length + 1}`): string {
    const ns = this.newNamespace(`h${this.hosts.length}`);
    this.plug(ns, bridge, 'eth0', address);
    return ns;
  }

  private bridge(name: string): void {
    ip('-n', this.hub, 'link', 'add', name, 'type', 'bridge');
    ip('-n', this.hub, 'link', 'set', name, 'up');
  }

  private newNamespace(suffix: string): string {
    const ns = uniqueName(suffix);
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    this.hosts.push(ns);
    this.addresses.push('');
    return ns;
  }

  /** Connects namespace `ns` to a bridge of the hub as `ifname` with `address`/24. */
  private plug(ns: string, bridge: string, ifname: string, address: string): void {
    const i = this.hosts.indexOf(ns);
    const hubSide = `v${i}${ifname.slice(-1)}`;
    ip('-n', this.hub, 'link', 'add', hubSide, 'type', 'veth', 'peer', 'name', ifname, 'netns', ns);
    ip('-n', this.hub, 'link', 'set', hubSide, 'master', bridge, 'up');
    ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', ifname);
    ip('-n', ns, 'link', 'set', ifname, 'up');
    if (!this.addresses[i]) this.addresses[i] = address;
  }

  /** Gives host i a pod address (`address`/24) on a veth pair, pod0 and pod0p: no dummy module. */
  addPodAddress(i: number, address: string): void {
    const ns = this.hosts[i]!;
    ip('-n', ns, 'link', 'add', 'pod0', 'type', 'veth', 'peer', 'name', 'pod0p');
    ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'pod0');
    ip('-n', ns, 'link', 'set', 'pod0p', 'up');
    ip('-n', ns, 'link', 'set', 'pod0', 'up');
  }

  /** Starts any program in host i (killed on close). */
  spawn(i: number, argv: string[]): Daemon {
    const d = startDaemon(this.hosts[i]!, argv);
    this.daemons.push(d);
    return d;
  }

  /** Runs `podnet bgp speaker` in host i with this config (JSON). */
  async speaker(i: number, config: object, name = `speaker${i}`): Promise<SpeakerHandle> {
    const file = join(this.dir, `${name}.json`);
    const socket = join(this.dir, `${name}.sock`);
    writeFileSync(file, JSON.stringify(config));
    rmSync(socket, { force: true });
    const d = startDaemon(this.hosts[i]!, [
      process.execPath,
      CLI,
      'bgp',
      'speaker',
      '--config',
      file,
      '--status-socket',
      socket,
    ]);
    this.daemons.push(d);
    const handle: SpeakerHandle = {
      ...d,
      socket,
      status: (withRoutes = true) => fetchStatus(socket, withRoutes),
      learned: async () => {
        const s = await fetchStatus(socket);
        return Object.fromEntries(
          s.routes.filter((r) => r.from !== 'local').map((r) => [r.prefix, r.nextHop]),
        );
      },
    };
    await until(`speaker ${name} up (${d.output()})`, () => handle.status(false));
    return handle;
  }

  /** Runs BIRD in host i with this configuration text; birdc talks to it through `ctl`. */
  bird(i: number, conf: string, name = `bird${i}`): Daemon & { ctl(...args: string[]): string } {
    const file = join(this.dir, `${name}.conf`);
    const sock = join(this.dir, `${name}.ctl`);
    writeFileSync(file, conf);
    const d = startDaemon(this.hosts[i]!, [
      'bird',
      '-f',
      '-c',
      file,
      '-s',
      sock,
      '-P',
      join(this.dir, `${name}.pid`),
    ]);
    this.daemons.push(d);
    return {
      ...d,
      ctl: (...args: string[]) =>
        execFileSync('birdc', ['-s', sock, ...args], { encoding: 'utf8' }),
    };
  }

  /** Runs gobgpd in host i; `cli` runs the gobgp client against its API inside the namespace. */
  gobgp(i: number, toml: string, name = `gobgp${i}`): Daemon & { cli(...args: string[]): string } {
    const file = join(this.dir, `${name}.toml`);
    writeFileSync(file, toml);
    const ns = this.hosts[i]!;
    const d = startDaemon(ns, [
      'gobgpd',
      '-f',
      file,
      '--api-hosts',
      '127.0.0.1:50051',
      '-p',
      '--pprof-disable',
    ]);
    this.daemons.push(d);
    return {
      ...d,
      cli: (...args: string[]) => inNs(ns, ['gobgp', '-u', '127.0.0.1', '-p', '50051', ...args]),
    };
  }

  /**
   * Runs FRR's bgpd in host i; `vtysh` runs commands against it. With `zebra`, FRR's zebra
   * runs beside it and installs the routes bgpd selects in the namespace's kernel.
   */
  async frr(
    i: number,
    conf: string,
    opts: { name?: string; zebra?: boolean } = {},
  ): Promise<Daemon & { vtysh(command: string): string }> {
    const name = opts.name ?? `frr${i}`;
    const dir = mkdtempSync(join(this.dir, `${name}-`));
    const file = join(dir, 'bgpd.conf');
    writeFileSync(file, conf);
    const ns = this.hosts[i]!;
    if (opts.zebra) await this.zebra(i, dir);
    const d = startDaemon(ns, bgpdArgv(dir, { zebra: opts.zebra ?? false }));
    this.daemons.push(d);
    return {
      ...d,
      vtysh: (command: string) => inNs(ns, ['vtysh', '--vty_socket', dir, '-c', command]),
    };
  }

  /** Runs the raw test peer (bgp-raw-peer.ts) in host i; `request` sends one command. */
  rawPeer(i: number): Daemon & { request(cmd: object): Promise<Record<string, unknown>> } {
    const script = resolve(dirname(fileURLToPath(import.meta.url)), 'bgp-raw-peer.js');
    const proc = spawn(
      'nsenter',
      [`--net=/run/netns/${this.hosts[i]!}`, '--', process.execPath, script],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let buffered = '';
    let err = '';
    const waiting: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
    proc.stdout!.on('data', (b: Buffer) => {
      buffered += b.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        waiting.shift()?.resolve(line);
      }
    });
    proc.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<void>((r) =>
      proc.once('exit', () => {
        for (const w of waiting.splice(0)) w.reject(new Error(`raw peer exited: ${err}`));
        r();
      }),
    );
    const d: Daemon = {
      proc,
      output: () => err,
      kill: async (signal = 'SIGKILL') => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
        await exited;
      },
    };
    this.daemons.push(d);
    return {
      ...d,
      request: (cmd: object) =>
        new Promise((resolveLine, reject) => {
          waiting.push({ resolve: (line) => resolveLine(JSON.parse(line)), reject });
          proc.stdin!.write(`${JSON.stringify(cmd)}\n`);
        }),
    };
  }

  /**
   * Runs FRR's zebra in host i (it installs what routing daemons hand it) and returns its
   * zserv socket. zebra refuses to run as root without the frrvty group: it runs as frr, in
   * a directory frr can reach.
   */
  async zebra(i: number, dir = mkdtempSync(join(this.dir, `zebra${i}-`))): Promise<string> {
    const zserv = zservSocket(dir);
    writeFileSync(join(dir, 'zebra.conf'), '');
    chmodSync(this.dir, 0o711);
    execFileSync('chown', ['-R', 'frr:frr', dir]);
    const z = startDaemon(this.hosts[i]!, zebraArgv(dir));
    this.daemons.push(z);
    await until(`zebra up (${z.output()})`, () => existsSync(zserv));
    return zserv;
  }

  readFile(name: string): string {
    return readFileSync(join(this.dir, name), 'utf8');
  }

  async close(): Promise<void> {
    for (const d of this.daemons) await d.kill().catch(() => undefined);
    for (const ns of [...this.hosts, this.hub]) deleteNamespace(ns);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs `fn` on a fresh BgpNet of `hosts` hosts, removing it afterwards whatever happened. */
export async function withBgpNet<T>(hosts: number, fn: (net: BgpNet) => Promise<T>): Promise<T> {
  const net = new BgpNet(hosts);
  try {
    return await fn(net);
  } finally {
    await net.close();
  }
}
