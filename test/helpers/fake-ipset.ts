// An in-memory ipset: the IpsetKernel the policy datapath is given. It reads `ipset restore`
// scripts as the tool does — line by line, stopping at the first refused line with the lines
// before it applied — and refuses what the kernel refuses: creating a set twice (with -exist:
// as another type), adding a member twice or deleting a missing one (without -exist), a full
// set, a malformed member or a /0 in hash:net, swapping sets of different types, destroying
// a set that a rule still names. Members are kept the way `ipset save` prints them.
import { formatCidr, parseCidr, parseIP, formatIP } from '../../src/net/index.js';
import type { IpsetKernel } from '../../src/kernel/ipset.js';
import { inCIDR } from './in-cidr.js';

export interface FakeIpsetSet {
  type: string;
  maxelem: number;
  members: Set<string>;
}

const TYPES = new Set(['hash:ip', 'hash:net', 'hash:ip,port']);
const PORT_PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

export class FakeIpset implements IpsetKernel {
  sets = new Map<string, FakeIpsetSet>();
  /** Scripts accepted whole, in order. */
  readonly scripts: string[] = [];
  /** Whether some rule names the set (the iptables fake of the same namespace answers). */
  inUse: (name: string) => boolean = () => false;

  async save(): Promise<string> {
    const out: string[] = [];
    for (const [name, set] of this.sets) {
      out.push(`create ${name} ${set.type} family inet hashsize 1024 maxelem ${set.maxelem}`);
      for (const m of set.members) out.push(`add ${name} ${m}`);
    }
    return out.length ? `${out.join('\n')}\n` : '';
  }

  async restore(script: string): Promise<void> {
    script.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (!line) return;
      try {
        this.apply(line.split(/\s+/));
      } catch (err) {
        throw new Error(`ipset v7.17: Error in line ${i + 1}: ${(err as Error).message}`);
      }
    });
    this.scripts.push(script);
  }

  /** Whether a packet with these fields is in the set, read in the directions a rule names. */
  matches(name: string, fields: { ip: string; protocol?: string; port?: number }): boolean {
    const set = this.sets.get(name);
    if (!set) throw new Error(`fake ipset: no set ${name}`);
    if (set.type === 'hash:ip') return set.members.has(fields.ip);
    if (set.type === 'hash:net')
      return [...set.members].some((m) => inCIDR(fields.ip, m.includes('/') ? m : `${m}/32`));
    if (fields.protocol === undefined || fields.port === undefined)
      throw new Error(`fake ipset: ${name} is ${set.type}, matched without a port`);
    return set.members.has(`${fields.ip},${fields.protocol}:${fields.port}`);
  }

  private apply(words: string[]): void {
    const exist = words.includes('-exist');
    const [command, name, arg] = words.filter((w) => w !== '-exist');
    const set = name === undefined ? undefined : this.sets.get(name);
    switch (command) {
      case 'create': {
        if (!name || !arg || !TYPES.has(arg)) throw new Error(`Syntax error: unknown set type`);
        if (set) {
          if (exist && set.type === arg) return;
          throw new Error('Set cannot be created: set with the same name already exists');
        }
        const at = words.indexOf('maxelem');
        const maxelem = at > 0 ? Number(words[at + 1]) : 65536;
        this.sets.set(name, { type: arg, maxelem, members: new Set() });
        return;
      }
      case 'add':
      case 'del': {
        if (!set || !arg) throw new Error(`The set with the given name does not exist`);
        const member = normalise(set.type, arg);
        if (command === 'add') {
          if (set.members.has(member)) {
            if (exist) return;
            throw new Error("Element cannot be added to the set: it's already added");
          }
          if (set.members.size >= set.maxelem) throw new Error('Hash is full, cannot add more');
          set.members.add(member);
        } else {
          if (!set.members.delete(member) && !exist)
            throw new Error("Element cannot be deleted from the set: it's not added");
        }
        return;
      }
      case 'swap': {
        const other = arg === undefined ? undefined : this.sets.get(arg);
        if (!set || !other) throw new Error('The set with the given name does not exist');
        if (set.type !== other.type)
          throw new Error('The sets cannot be swapped: their type does not match');
        this.sets.set(name!, other);
        this.sets.set(arg!, set);
        return;
      }
      case 'destroy':
        if (!set) throw new Error('The set with the given name does not exist');
        if (this.inUse(name!))
          throw new Error('Set cannot be destroyed: it is in use by a kernel component');
        this.sets.delete(name!);
        return;
      default:
        throw new Error(`Unknown command ${command}`);
    }
  }
}

/** A member as `ipset save` prints it, or an error for what ipset refuses. */
function normalise(type: string, text: string): string {
  if (type === 'hash:ip') return formatIP(parseIP(text));
  if (type === 'hash:net') {
    const cidr = parseCidr(text.includes('/') ? text : `${text}/32`, { loose: true });
    if (cidr.prefix === 0)
      throw new Error('The value of the CIDR parameter of the IP address is invalid');
    const out = formatCidr(cidr);
    return cidr.prefix === 32 ? out.slice(0, -3) : out;
  }
  const m = /^([^,]+),(?:(\w+):)?(\d+)$/.exec(text);
  const protocol = m?.[2] ?? 'tcp';
  if (!m || !PORT_PROTOCOLS.has(protocol) || Number(m[3]) > 65535)
    throw new Error(`Syntax error: cannot parse ${text}`);
  return `${formatIP(parseIP(m[1]!))},${protocol}:${Number(m[3])}`;
}
