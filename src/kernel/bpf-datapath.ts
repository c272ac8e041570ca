// The eBPF data path's programs (bpf/datapath.c): loaded once per host and pinned with their
// maps on the BPF file system, attached with tc to the ingress of every pod veth and of the
// underlay device where missing, and their maps brought to what the agent wants with one
// `bpftool batch` of only the differences. Pinned, they outlive the agent: a restarted agent
// finds the same programs and maps, and the packets it redirected keep flowing meanwhile.
import { existsSync, mkdirSync, readlinkSync, rmSync, statSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, runJson } from '../process/run.js';
import { OperationError } from '../util/errors.js';
import { mapCommands } from './bpf-ipip.js';

/** The compiled programs (`make build`). */
export const DATAPATH_BPF_OBJECT = fileURLToPath(new URL('../../bpf/datapath.o', import.meta.url));

/** The programs by where they run: a pod veth's ingress and egress, the underlay's ingress. */
export const DATAPATH_PROGRAMS = {
  pod: 'from_pod',
  podEgress: 'to_pod',
  underlay: 'from_underlay',
} as const;
export type DatapathProgram = keyof typeof DATAPATH_PROGRAMS;
const PROGRAM_HOOKS: Record<DatapathProgram, 'ingress' | 'egress'> = {
  pod: 'ingress',
  podEgress: 'egress',
  underlay: 'ingress',
};
const PROGRAMS = Object.keys(DATAPATH_PROGRAMS) as DatapathProgram[];

/** The maps the agent writes, as the C source names them. */
export const DATAPATH_MAPS = {
  pods: 'pn_dp_pods',
  sources: 'pn_dp_sources',
  routes: 'pn_dp_routes',
  policy: 'pn_dp_policy',
  backends: 'pn_dp_backends',
  services: 'pn_dp_services',
  serviceBackends: 'pn_dp_service_backends',
  config: 'pn_dp_config',
} as const;
export type DatapathMapName = keyof typeof DATAPATH_MAPS;

/** Each map's entries as hex keys to hex values (`bpftool`'s spelling). */
export type DatapathMaps = Record<DatapathMapName, Map<string, string>>;

/** The counters' slots (enum action in the C source). */
export const DATAPATH_ACTIONS = [
  'kernel',
  'redirect_peer',
  'redirect_neigh',
  'drop_spoofed',
  'service_dnat',
  'reverse_nat',
];

const BPF_FS_MAGIC = 0xcafe4a11;
/**
 * Where the programs are pinned: the machine's BPF file system, or one mounted at
 * /run/podnet/bpf where /sys is the namespace's own (`ip netns exec` mounts a fresh sysfs,
 * without /sys/fs/bpf, for the lab's agents).
 */
const BPF_ROOTS = ['/sys/fs/bpf', '/run/podnet/bpf'];

function isBpfFs(path: string): boolean {
  try {
    return statfsSync(path).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

/** Mounts a BPF file system at /run/podnet/bpf unless one is there (for namespaced agents). */
export async function ensureBpfFs(): Promise<void> {
  const root = BPF_ROOTS[1]!;
  if (isBpfFs(root)) return;
  mkdirSync(root, { recursive: true });
  await run(['mount', '-t', 'bpf', 'bpf', root]);
}

/**
 * This host's pin directory: one per network namespace (its inode), so that lab hosts sharing
 * a machine never share programs, maps or ifindexes.
 */
export function datapathPinDir(): string {
  const root = BPF_ROOTS.find(isBpfFs);
  if (!root)
    throw new OperationError(`eBPF data path: no BPF file system at ${BPF_ROOTS.join(' or ')}`);
  const inode = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))?.[1] ?? 'host';
  return join(root, 'podnet', `net-${inode}`);
}

const programPath = (dir: string, program: DatapathProgram): string =>
  join(dir, 'progs', DATAPATH_PROGRAMS[program]);
/** The maps only the programs write: their counters and their own translations. */
const PROGRAM_MAPS = { counters: 'pn_dp_counters', nat: 'pn_dp_nat' } as const;
const mapPath = (dir: string, name: DatapathMapName | keyof typeof PROGRAM_MAPS): string =>
  join(
    dir,
    'maps',
    name === 'counters' || name === 'nat' ? PROGRAM_MAPS[name] : DATAPATH_MAPS[name],
  );
const ALL_MAPS = [...Object.keys(DATAPATH_MAPS), ...Object.keys(PROGRAM_MAPS)] as (
  DatapathMapName | keyof typeof PROGRAM_MAPS
)[];

/** Loads and pins the programs unless pinned already; the verifier's complaint when it refuses. */
export async function loadDatapath(dir: string): Promise<void> {
  if (
    PROGRAMS.every((p) => existsSync(programPath(dir, p))) &&
    ALL_MAPS.every((m) => existsSync(mapPath(dir, m)))
  )
    return;
  // A half-pinned directory (an earlier load that died, or an older agent's programs, which
  // lack a map this one has) is loaded afresh; programs still attached keep their own maps until they are replaced.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const loaded = await run(
    [
      'bpftool',
      'prog',
      'loadall',
      DATAPATH_BPF_OBJECT,
      join(dir, 'progs'),
      'type',
      'classifier',
      'pinmaps',
      join(dir, 'maps'),
    ],
    { okCodes: [255, 1] },
  );
  if (loaded.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    const said = loaded.stderr.trim().split('\n').slice(-3).join(' ');
    throw new OperationError(`eBPF data path: the kernel refused bpf/datapath.c: ${said}`);
  }
}

/** The id the kernel gave a pinned program. */
async function pinnedProgramId(dir: string, program: DatapathProgram): Promise<number> {
  const shown = await runJson<{ id: number }>([
    'bpftool',
    '-j',
    'prog',
    'show',
    'pinned',
    programPath(dir, program),
  ]);
  return shown.id;
}

interface NetShow {
  tc?: { devname: string; kind: string; name: string; id: number }[];
}

/** Where one of `ids` runs: `dev ingress|egress` → program id. */
async function attachedHooks(ids: readonly number[], netns?: string): Promise<Map<string, number>> {
  const shown = await runJson<NetShow[]>(['bpftool', '-j', 'net', 'show'], { netns });
  const attached = new Map<string, number>();
  for (const t of shown[0]?.tc ?? []) {
    const hook = /^clsact\/(ingress|egress)$/.exec(t.kind)?.[1];
    if (hook && ids.includes(t.id)) attached.set(`${t.devname} ${hook}`, t.id);
  }
  return attached;
}

/** The devices each program should run on (pod veths run both of theirs). */
export type DatapathAttachments = { pod: readonly string[]; underlay: readonly string[] };

const filter = (hook: string): string => `${hook} pref 1 handle 1 bpf`;

async function pinnedProgramIds(dir: string): Promise<Record<DatapathProgram, number>> {
  const ids = {} as Record<DatapathProgram, number>;
  for (const p of PROGRAMS) ids[p] = await pinnedProgramId(dir, p);
  return ids;
}

/**
 * Attaches each program where it is missing and takes podnet's programs off devices that
 * should not run them (a pod veth gone is gone with its filter). One `tc -batch`.
 */
export async function attachDatapath(
  dir: string,
  want: DatapathAttachments,
  netns?: string,
): Promise<number> {
  const ids = await pinnedProgramIds(dir);
  const have = await attachedHooks(Object.values(ids), netns);
  const lines: string[] = [];
  const wanted = new Set<string>();
  const devices: Record<DatapathProgram, readonly string[]> = {
    pod: want.pod,
    podEgress: want.pod,
    underlay: want.underlay,
  };
  for (const program of PROGRAMS) {
    const hook = PROGRAM_HOOKS[program];
    for (const dev of devices[program]) {
      wanted.add(`${dev} ${hook}`);
      if (have.get(`${dev} ${hook}`) === ids[program]) continue;
      lines.push(`qdisc replace dev ${dev} clsact`);
      lines.push(
        `filter replace dev ${dev} ${filter(hook)} da object-pinned ${programPath(dir, program)}`,
      );
    }
  }
  for (const where of have.keys()) {
    const [dev, hook] = where.split(' ');
    if (!wanted.has(where)) lines.push(`filter del dev ${dev} ${filter(hook!)}`);
  }
  if (lines.length > 0) await tcBatch(lines, netns);
  return lines.filter((l) => l.startsWith('filter replace')).length;
}

/** Takes the programs off every device (back to the kernel path); the pins stay for later. */
export async function detachDatapath(dir: string, netns?: string): Promise<number> {
  if (!existsSync(programPath(dir, 'pod'))) return 0;
  const ids: number[] = [];
  for (const p of PROGRAMS) {
    if (existsSync(programPath(dir, p))) ids.push(await pinnedProgramId(dir, p));
  }
  const have = await attachedHooks(ids, netns);
  await tcBatch(
    [...have.keys()].map((where) => {
      const [dev, hook] = where.split(' ');
      return `filter del dev ${dev} ${filter(hook!)}`;
    }),
    netns,
  );
  return new Set([...have.keys()].map((where) => where.split(' ')[0])).size;
}

async function tcBatch(lines: readonly string[], netns?: string): Promise<void> {
  if (lines.length === 0) return;
  const r = await run(['tc', '-batch', '-'], {
    netns,
    input: `${lines.join('\n')}\n`,
    okCodes: [1],
  });
  if (r.code !== 0) {
    throw new OperationError(
      `eBPF data path: tc could not attach the programs: ${r.stderr.trim()}`,
    );
  }
}

/** A pinned map's entries as hex keys to hex values. */
async function readPinnedMap(path: string): Promise<Map<string, string>> {
  const entries = await runJson<{ key: string[]; value: string[] }[]>([
    'bpftool',
    '-j',
    'map',
    'dump',
    'pinned',
    path,
  ]);
  const hex = (bytes: string[]): string => bytes.map((b) => b.replace(/^0x/, '')).join(' ');
  return new Map(entries.map((e) => [hex(e.key), hex(e.value)]));
}

/** Writes the differences between `want` and the maps into them; returns how many. */
export async function syncDatapathMaps(dir: string, want: DatapathMaps): Promise<number> {
  const lines: string[] = [];
  for (const name of Object.keys(DATAPATH_MAPS) as DatapathMapName[]) {
    const path = mapPath(dir, name);
    const have = await readPinnedMap(path);
    // mapCommands speaks of map ids; the pinned path is the same map to bpftool.
    lines.push(
      ...mapCommands(0, want[name], have).map((l) => l.replace('id 0 ', `pinned ${path} `)),
    );
  }
  if (lines.length > 0) {
    await run(['bpftool', 'batch', 'file', '-'], { input: `${lines.join('\n')}\n` });
  }
  return lines.length;
}

/**
 * The programs' translations (pn_dp_nat, hex key → hex value) and the monotonic clock's time
 * just after they were read, the clock bpf_ktime_get_ns stamps them with. None where the
 * programs were never loaded.
 */
export async function datapathTranslations(
  dir: string,
): Promise<{ entries: Map<string, string>; nowNs: bigint }> {
  const path = mapPath(dir, 'nat');
  const entries = existsSync(path) ? await readPinnedMap(path) : new Map<string, string>();
  return { entries, nowNs: process.hrtime.bigint() };
}

/**
 * The translations of a lab host's programs (`netns`, the pins named by its namespace's inode),
 * or of this host's without one: what `doctor` reads to tell a drain from programs left behind.
 */
export async function hostTranslations(
  netns?: string,
): Promise<{ entries: Map<string, string>; nowNs: bigint }> {
  const inode = netns ? String(statSync(`/run/netns/${netns}`).ino) : undefined;
  const dir = inode
    ? BPF_ROOTS.filter(isBpfFs)
        .map((root) => join(root, 'podnet', `net-${inode}`))
        .find((d) => existsSync(d))
    : datapathPinDirIfAny();
  return dir ? datapathTranslations(dir) : { entries: new Map(), nowNs: 0n };
}

/** This host's pin directory, or undefined where no BPF file system is mounted. */
export function datapathPinDirIfAny(): string | undefined {
  try {
    return datapathPinDir();
  } catch {
    return undefined;
  }
}

/** Removes translations (by hex key) the programs no longer need; returns how many. */
export async function forgetTranslations(dir: string, keys: Iterable<string>): Promise<number> {
  const path = mapPath(dir, 'nat');
  const lines = [...keys].map((key) => `map delete pinned ${path} key hex ${key}`);
  if (lines.length > 0) {
    await run(['bpftool', 'batch', 'file', '-'], { input: `${lines.join('\n')}\n` });
  }
  return lines.length;
}

/** The programs' counters, summed over the CPUs, by action. */
export async function datapathCounters(dir: string): Promise<Map<string, number>> {
  const entries = await runJson<{ formatted?: { key: number; values: { value: number }[] } }[]>([
    'bpftool',
    '-j',
    'map',
    'dump',
    'pinned',
    mapPath(dir, 'counters'),
  ]);
  const counts = new Map<string, number>();
  for (const e of entries) {
    const action = DATAPATH_ACTIONS[e.formatted?.key ?? -1];
    if (action)
      counts.set(
        action,
        (e.formatted?.values ?? []).reduce((s, v) => s + v.value, 0),
      );
  }
  return counts;
}

/** Every link of this namespace by name → ifindex (the maps key pods by their veth's index). */
export async function linkIndexes(netns?: string): Promise<Map<string, number>> {
  const argv = netns ? ['ip', '-n', netns, '-j', 'link', 'show'] : ['ip', '-j', 'link', 'show'];
  const links = await runJson<{ ifname: string; ifindex: number }[]>(argv);
  return new Map(links.map((l) => [l.ifname, l.ifindex]));
}

/** The device that holds `address` in this namespace, with the subnet it is on. */
export async function deviceWithAddress(
  address: string,
  netns?: string,
): Promise<{ dev: string; subnet: string } | undefined> {
  const argv = netns ? ['ip', '-n', netns, '-j', 'addr', 'show'] : ['ip', '-j', 'addr', 'show'];
  const links =
    await runJson<{ ifname: string; addr_info?: { local: string; prefixlen: number }[] }[]>(argv);
  for (const l of links) {
    const a = l.addr_info?.find((i) => i.local === address);
    if (a) return { dev: l.ifname, subnet: `${address}/${a.prefixlen}` };
  }
  return undefined;
}

/** The devices running the data path's programs in a namespace, by program (for `doctor`). */
export async function datapathDevices(netns?: string): Promise<Record<DatapathProgram, string[]>> {
  const shown = await runJson<NetShow[]>(['bpftool', '-j', 'net', 'show'], { netns });
  const on = (program: DatapathProgram): string[] =>
    (shown[0]?.tc ?? [])
      .filter(
        (t) =>
          t.kind === `clsact/${PROGRAM_HOOKS[program]}` &&
          t.name.split(':')[0] === DATAPATH_PROGRAMS[program],
      )
      .map((t) => t.devname);
  return { pod: on('pod'), podEgress: on('podEgress'), underlay: on('underlay') };
}

/**
 * Removes the pins of a namespace about to go (its programs and maps go with the last
 * reference): the pin directory is named by the namespace's inode, which a later namespace
 * may be given.
 */
export function removeDatapathPins(netns: string): void {
  let inode: number;
  try {
    inode = statSync(`/run/netns/${netns}`).ino;
  } catch {
    return;
  }
  for (const root of BPF_ROOTS.filter(isBpfFs)) {
    rmSync(join(root, 'podnet', `net-${inode}`), { recursive: true, force: true });
  }
}
