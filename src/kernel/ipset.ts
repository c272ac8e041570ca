// ipsets through `ipset save` and `ipset restore`: the sets a caller owns (by name prefix) are
// read once, and one restore script creates the missing ones and adds or deletes only the
// members that differ. Destroying sets is a separate script, run once no rule refers to them.
import { run } from '../process/run.js';

export interface IpsetSpec {
  name: string;
  /** `hash:ip`, `hash:net`, `hash:ip,port`, … */
  type: string;
  /** As `ipset save` prints them. */
  members: string[];
}

/** What a kernel set is, as far as a diff needs. */
export interface KernelIpset {
  name: string;
  type: string;
  maxelem: number;
  members: Set<string>;
}

/** The ipset tool of one network namespace: what the policy datapath is given. */
export interface IpsetKernel {
  /** `ipset save`: every set and member of the namespace. */
  save(): Promise<string>;
  /** `ipset restore`: stops at the first line the kernel refuses. */
  restore(script: string): Promise<void>;
}

/** The kernel's default; a set that must hold more is created (or rebuilt) bigger. */
const DEFAULT_MAXELEM = 65536;

export function parseIpsetSave(text: string): Map<string, KernelIpset> {
  const sets = new Map<string, KernelIpset>();
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] === 'create' && words.length >= 3) {
      const at = words.indexOf('maxelem');
      const maxelem = at > 0 ? Number(words[at + 1]) : DEFAULT_MAXELEM;
      sets.set(words[1]!, { name: words[1]!, type: words[2]!, maxelem, members: new Set() });
    } else if (words[0] === 'add' && words.length >= 3) {
      sets.get(words[1]!)?.members.add(words[2]!);
    }
  }
  return sets;
}

function maxelemFor(count: number): number {
  let n = DEFAULT_MAXELEM;
  while (n < count) n *= 2;
  return n;
}

export interface IpsetScripts {
  /** Creates, fills and trims the desired sets; run before the rules that use them change. */
  update: string;
  /** Destroys owned sets no longer desired; run after the rules stopped using them. */
  destroy: string;
  /** Members added plus members deleted (rebuilt sets count every member). */
  changedMembers: number;
}

/**
 * The two `ipset restore` scripts that take the owned sets (names starting with `prefix`) from
 * `current` to `desired`. A set too small for its members is rebuilt beside it and swapped in,
 * so the rules using it never see it half filled.
 */
export function ipsetScripts(
  desired: readonly IpsetSpec[],
  current: Map<string, KernelIpset>,
  prefix: string,
): IpsetScripts {
  const update: string[] = [];
  let changedMembers = 0;
  const create = (name: string, spec: IpsetSpec) =>
    `create ${name} ${spec.type} family inet maxelem ${maxelemFor(spec.members.length)}`;
  const wanted = new Set(desired.map((s) => s.name));
  for (const spec of desired) {
    if (!spec.name.startsWith(prefix)) throw new Error(`ipset ${spec.name} is not under ${prefix}`);
    const have = current.get(spec.name);
    if (have && have.type !== spec.type) {
      // The kernel swaps only sets of one type, and a set in use cannot be destroyed.
      throw new Error(`ipset ${spec.name} is a ${have.type} set, wanted ${spec.type}`);
    }
    if (!have || have.maxelem < spec.members.length) {
      const target = have ? rebuildName(prefix) : spec.name;
      update.push(create(target, spec), ...spec.members.map((m) => `add ${target} ${m}`));
      if (have) update.push(`swap ${target} ${spec.name}`, `destroy ${target}`);
      changedMembers += spec.members.length;
      continue;
    }
    const members = new Set(spec.members);
    const added = spec.members.filter((m) => !have.members.has(m));
    const deleted = [...have.members].filter((m) => !members.has(m));
    update.push(...added.map((m) => `add ${spec.name} ${m}`));
    update.push(...deleted.map((m) => `del ${spec.name} ${m}`));
    changedMembers += added.length + deleted.length;
  }
  // A rebuild left half done by a killed run is in no rule: it goes before it is needed again.
  if (current.has(rebuildName(prefix))) update.unshift(`destroy ${rebuildName(prefix)}`);
  const destroy = [...current.keys()]
    .filter((name) => name.startsWith(prefix) && !wanted.has(name) && name !== rebuildName(prefix))
    .map((name) => `destroy ${name}`);
  const script = (lines: string[]) => (lines.length ? `${lines.join('\n')}\n` : '');
  return { update: script(update), destroy: script(destroy), changedMembers };
}

/** The temporary name a rebuilt set is filled under before the swap. */
function rebuildName(prefix: string): string {
  return `${prefix}REBUILD`;
}

export async function ipsetSave(netns?: string): Promise<string> {
  return (await run(['ipset', 'save'], { netns })).stdout;
}

export async function ipsetRestore(script: string, netns?: string): Promise<void> {
  await run(['ipset', 'restore'], { netns, input: script });
}

export function ipsetKernel(netns?: string): IpsetKernel {
  return { save: () => ipsetSave(netns), restore: (script) => ipsetRestore(script, netns) };
}
