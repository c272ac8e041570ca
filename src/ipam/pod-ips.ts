// Pod addresses on one node, handed out from the node's pod subnet.
//
// Like host-local, each allocation is one file named by the address, in the node's state
// dir: creating it is the reservation (link(2) fails if it exists, so two allocations can
// never share an address, even across processes), and an agent restart re-reads the
// directory and forgets nothing. Each file holds the owner's (containerID, ifname), the key
// DEL and GC release by, so a repeated DEL or a DEL after a crash finds nothing and succeeds.
import { linkSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  addToIP,
  containsIP,
  familyMax,
  formatCidr,
  formatIP,
  tryParseIP,
  type Cidr,
  type IP,
} from '../net/index.js';
import { pickFreeAddress } from './pick-free.js';

export interface PodAllocation {
  ip: string;
  containerID: string;
  ifname: string;
  /** What the agent needs to undo the wiring without the runtime's help (GC, DEL without netns). */
  hostVeth: string;
  netns: string;
  /** The namespace's identity at ADD (`dev:inode`), which outlives its path. */
  netnsIdentity?: string;
  podNamespace?: string;
  podName?: string;
}

export type AllocationRequest = Omit<PodAllocation, 'ip'>;

export class PoolExhaustedError extends Error {
  constructor(subnet: string, size: number) {
    super(`no free pod address left in ${subnet} (all ${size} are in use)`);
    this.name = 'PoolExhaustedError';
  }
}

const key = (containerID: string, ifname: string): string => `${containerID}/${ifname}`;

export class PodIPAllocator {
  /** Keyed by the address's canonical text (the allocation file's name). */
  private readonly byIP = new Map<string, { ip: IP; allocation: PodAllocation }>();
  private readonly byKey = new Map<string, PodAllocation>();
  /** The last address handed out: the next search starts after it (host-local's round robin). */
  private last: IP | undefined;

  private constructor(private readonly dir: string) {}

  /** Opens (creating if needed) the allocation directory and loads what it holds. */
  static open(dir: string): PodIPAllocator {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const alloc = new PodIPAllocator(dir);
    for (const name of readdirSync(dir)) {
      // A crash between writing the temp file and linking it leaves only the temp file.
      if (name.endsWith('.tmp')) unlinkSync(join(dir, name));
      const ip = tryParseIP(name);
      if (ip === undefined || formatIP(ip) !== name) continue;
      alloc.remember(ip, readRecord(join(dir, name), name));
    }
    return alloc;
  }

  get(containerID: string, ifname: string): PodAllocation | undefined {
    return this.byKey.get(key(containerID, ifname));
  }

  list(): PodAllocation[] {
    return [...this.byIP.values()].map((entry) => entry.allocation);
  }

  /** How many addresses of `subnet` are allocated. */
  usedIn(subnet: Cidr): number {
    return this.addressesIn(subnet).size;
  }

  /** The values of the allocated addresses of `subnet`. */
  private addressesIn(subnet: Cidr): Set<bigint> {
    const out = new Set<bigint>();
    for (const { ip } of this.byIP.values()) if (containsIP(subnet, ip)) out.add(ip.value);
    return out;
  }

  /**
   * Reserves a free address of `subnet` for (containerID, ifname), never one of `reserved`.
   * An owner that already holds one gets it back (a runtime retrying an ADD after a crash).
   */
  allocate(
    subnet: Cidr,
    reserved: IP[],
    req: AllocationRequest,
  ): { allocation: PodAllocation; fresh: boolean } {
    const existing = this.get(req.containerID, req.ifname);
    if (existing) return { allocation: existing, fresh: false };
    const taken = this.addressesIn(subnet);
    for (;;) {
      const from = this.last && containsIP(subnet, this.last) ? nextOf(this.last) : undefined;
      const ip = pickFreeAddress(subnet, taken, { from, reserved });
      if (ip === undefined) throw new PoolExhaustedError(formatCidr(subnet), this.usedIn(subnet));
      const allocation: PodAllocation = { ...req, ip: formatIP(ip) };
      if (this.reserveFile(allocation)) {
        this.remember(ip, allocation);
        this.last = ip;
        return { allocation, fresh: true };
      }
      // Someone else holds the file (another process, or a record we failed to read): skip it.
      taken.add(ip.value);
    }
  }

  /** Frees the address of (containerID, ifname). Returns what was freed, if anything. */
  release(containerID: string, ifname: string): PodAllocation | undefined {
    const allocation = this.get(containerID, ifname);
    if (allocation) this.drop(allocation);
    return allocation;
  }

  /** GC: frees every allocation whose owner is not in `valid`. Returns what was freed. */
  releaseAllExcept(valid: { containerID: string; ifname: string }[]): PodAllocation[] {
    const keep = new Set(valid.map((a) => key(a.containerID, a.ifname)));
    const stale = this.list().filter((a) => !keep.has(key(a.containerID, a.ifname)));
    stale.forEach((a) => this.drop(a));
    return stale;
  }

  private drop(allocation: PodAllocation): void {
    try {
      unlinkSync(join(this.dir, allocation.ip));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.byIP.delete(allocation.ip);
    const k = key(allocation.containerID, allocation.ifname);
    if (this.byKey.get(k) === allocation) this.byKey.delete(k);
  }

  private remember(ip: IP, allocation: PodAllocation): void {
    this.byIP.set(allocation.ip, { ip, allocation });
    this.byKey.set(key(allocation.containerID, allocation.ifname), allocation);
  }

  /**
   * Writes the record whole to a temp file, then links it to the address's name: the link
   * is the atomic create-if-absent, and a crash never leaves a half-written record.
   */
  private reserveFile(allocation: PodAllocation): boolean {
    const final = join(this.dir, allocation.ip);
    const temp = `${final}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(allocation), { mode: 0o600 });
    try {
      linkSync(temp, final);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      unlinkSync(temp);
    }
  }
}

/** Reads one allocation file; a record that cannot be read still holds its address. */
function readRecord(path: string, ip: string): PodAllocation {
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as PodAllocation;
    return { ...record, ip };
  } catch {
    // Owned by nobody the runtime knows, so the next GC frees it.
    return { ip, containerID: '', ifname: '', hostVeth: '', netns: '' };
  }
}

/** The address after `ip`, or undefined at the end of the family's space. */
function nextOf(ip: IP): IP | undefined {
  return ip.value < familyMax(ip.family) ? addToIP(ip, 1) : undefined;
}
