// The tc BPF IP-in-IP programs (bpf/ipip.c) on the underlay device: attached with tc where they
// are missing (the verifier checks them then), found again by listing the device's filters, and
// their maps brought to the wanted peers with one `bpftool batch` of only the differences. The
// filters hold the programs and the programs their maps, so nothing is pinned: all of it lives
// and goes with the device, and an agent restart finds it as it was.
import { fileURLToPath } from 'node:url';
import { endianness } from 'node:os';
import type { IpipTunnel } from './netobjects.js';
import { run } from '../process/run.js';
import { ipBytes, networkAddress, parseCidr, parseIPv4 } from '../net/index.js';
import { OperationError } from '../util/errors.js';

/** The compiled programs (`make build`). */
export const IPIP_BPF_OBJECT = fileURLToPath(new URL('../../bpf/ipip.o', import.meta.url));

/** The two programs: tc hook, ELF section, and the program name the kernel reports. */
export const IPIP_PROGRAMS = {
  encap: { hook: 'egress', section: 'tc/ipip_encap', name: 'ipip_encap' },
  decap: { hook: 'ingress', section: 'tc/ipip_decap', name: 'ipip_decap' },
} as const;

/** Where a program was found attached, and the one map it uses. */
export interface AttachedProgram {
  progId: number;
  mapId: number;
}

interface TcFilter {
  kind?: string;
  options?: { prog?: { id: number; name: string } };
}

/** The program of one hook, if podnet's is attached there. */
async function findProgram(
  dev: string,
  which: keyof typeof IPIP_PROGRAMS,
  netns?: string,
): Promise<number | undefined> {
  const { hook, name } = IPIP_PROGRAMS[which];
  const { stdout } = await run(['tc', '-j', 'filter', 'show', 'dev', dev, hook], { netns });
  const filters = JSON.parse(stdout || '[]') as TcFilter[];
  return filters.find((f) => f.kind === 'bpf' && f.options?.prog?.name === name)?.options?.prog?.id;
}

/** Attaches one program where it is missing; returns it with its map. */
export async function attachProgram(
  dev: string,
  which: keyof typeof IPIP_PROGRAMS,
  netns?: string,
): Promise<AttachedProgram> {
  let progId = await findProgram(dev, which, netns);
  if (progId === undefined) {
    const { hook, section } = IPIP_PROGRAMS[which];
    // 2: the device already has its clsact qdisc.
    await run(['tc', 'qdisc', 'add', 'dev', dev, 'clsact'], { netns, okCodes: [2] });
    const filter = ['tc', 'filter', 'replace', 'dev', dev, hook, 'pref', '1', 'handle', '1'];
    const loaded = await run([...filter, 'bpf', 'da', 'obj', IPIP_BPF_OBJECT, 'sec', section], {
      netns,
      okCodes: [1, 2, 255],
    });
    if (loaded.code !== 0) {
      const said = loaded.stderr.trim().split('\n').slice(-3).join(' ');
      throw new OperationError(`BPF IP-in-IP: tc could not load ${section} on ${dev}: ${said}`);
    }
    progId = await findProgram(dev, which, netns);
    if (progId === undefined) {
      throw new OperationError(`BPF IP-in-IP: ${section} is not on ${dev} after loading it`);
    }
  }
  return attachedMap(progId);
}

async function attachedMap(progId: number): Promise<AttachedProgram> {
  const { stdout } = await run(['bpftool', '-j', 'prog', 'show', 'id', String(progId)]);
  const mapId = (JSON.parse(stdout) as { map_ids?: number[] }).map_ids?.[0];
  if (mapId === undefined) throw new OperationError(`BPF IP-in-IP: program ${progId} has no map`);
  return { progId, mapId };
}

/** A map's entries as hex keys to hex values. */
async function readMap(mapId: number): Promise<Map<string, string>> {
  const { stdout } = await run(['bpftool', '-j', 'map', 'dump', 'id', String(mapId)]);
  const entries = JSON.parse(stdout || '[]') as { key: string[]; value: string[] }[];
  const hex = (bytes: string[]): string => bytes.map((b) => b.replace(/^0x/, '')).join(' ');
  return new Map(entries.map((e) => [hex(e.key), hex(e.value)]));
}

/** `bpftool batch` lines that bring a map from `have` to `want`. */
export function mapCommands(
  mapId: number,
  want: ReadonlyMap<string, string>,
  have: ReadonlyMap<string, string>,
): string[] {
  const lines: string[] = [];
  for (const [key, value] of want) {
    if (have.get(key) !== value)
      lines.push(`map update id ${mapId} key hex ${key} value hex ${value}`);
  }
  for (const key of have.keys()) {
    if (!want.has(key)) lines.push(`map delete id ${mapId} key hex ${key}`);
  }
  return lines;
}

export function hexBytes(bytes: readonly number[]): string {
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** A u32 in this machine's byte order, as the programs' C structs hold it. */
export function hostU32(n: number): number[] {
  const b = Buffer.alloc(4);
  if (endianness() === 'LE') b.writeUInt32LE(n);
  else b.writeUInt32BE(n);
  return [...b];
}

/** The encap map's entries: pod subnet (prefix length, network) → outer addresses. */
export function routeEntries(tunnels: readonly IpipTunnel[]): Map<string, string> {
  return new Map(
    tunnels.map((t) => {
      const subnet = parseCidr(t.podCIDR, { loose: true });
      return [
        hexBytes([...hostU32(subnet.prefix), ...ipBytes(networkAddress(subnet))]),
        hexBytes([...ipBytes(parseIPv4(t.remote)), ...ipBytes(parseIPv4(t.local))]),
      ];
    }),
  );
}

/** The decap map's entries: each peer's underlay address. */
export function peerEntries(tunnels: readonly IpipTunnel[]): Map<string, string> {
  return new Map(
    tunnels.map((t) => [hexBytes(ipBytes(parseIPv4(t.remote))), hexBytes(hostU32(1))]),
  );
}

/**
 * Attaches both programs on `dev` where missing and writes the differences into their maps.
 * No tunnels on a device without the programs: nothing to do (they are not attached for that).
 */
export async function syncIpipBpf(
  dev: string,
  tunnels: readonly IpipTunnel[],
  netns?: string,
): Promise<void> {
  if (tunnels.length === 0 && (await findProgram(dev, 'encap', netns)) === undefined) return;
  const encap = await attachProgram(dev, 'encap', netns);
  const decap = await attachProgram(dev, 'decap', netns);
  const lines = [
    ...mapCommands(encap.mapId, routeEntries(tunnels), await readMap(encap.mapId)),
    ...mapCommands(decap.mapId, peerEntries(tunnels), await readMap(decap.mapId)),
  ];
  if (lines.length === 0) return;
  await run(['bpftool', 'batch', 'file', '-'], { input: `${lines.join('\n')}\n` });
}

/** The outer addresses the egress program on `dev` wraps a packet for `dst` in, if any. */
export async function ipipBpfTunnel(
  dev: string,
  dst: string,
  netns?: string,
): Promise<{ remote: string; local: string } | undefined> {
  const progId = await findProgram(dev, 'encap', netns);
  if (progId === undefined) return undefined;
  const { mapId } = await attachedMap(progId);
  const key = hexBytes([...hostU32(32), ...ipBytes(parseIPv4(dst))]);
  const r = await run(
    ['bpftool', '-j', 'map', 'lookup', 'id', String(mapId), 'key', 'hex', ...key.split(' ')],
    {
      okCodes: [255],
    },
  );
  if (r.code !== 0) return undefined;
  const value = (JSON.parse(r.stdout) as { value: string[] }).value.map((b) => parseInt(b, 16));
  return { remote: value.slice(0, 4).join('.'), local: value.slice(4, 8).join('.') };
}
