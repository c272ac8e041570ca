// How many routes each table holds, as the lab's guard counts them for the quota. Reading a
// table from moto costs more the fuller it is (over 100 ms at a few hundred routes, longer than
// the 200 ms AWS's refill allows per route call), so the guard reads a table once and then
// follows its own writes; any other write through it (a new table, a reset) may change what a
// table holds, so the counts are read again after one. AWS counts a table's IPv4 and IPv6
// routes apart, each against the quota, so the guard counts per table and family (countKey).
import { tryParseCidr, type Family } from '../net/index.js';

/** What the guard counts a route call against: its table, in the family of its destination. */
export function countKey(table: string, family: Family): string {
  return family === 6 ? `${table}/ipv6` : table;
}

/** The table and family a count key stands for. */
export function parseCountKey(key: string): { table: string; family: Family } {
  return key.endsWith('/ipv6')
    ? { table: key.slice(0, -'/ipv6'.length), family: 6 }
    : { table: key, family: 4 };
}

/** How many of a table's route destinations are of the family (the local route is IPv4). */
export function routesOfFamily(destinations: readonly string[], family: Family): number {
  return destinations.filter((d) => (tryParseCidr(d, { loose: true })?.family ?? 4) === family)
    .length;
}

export class RouteCounts {
  private readonly counts = new Map<string, number>();

  constructor(
    /** Routes in a table as moto lists them, or undefined when it does not exist. */
    private readonly read: (table: string) => Promise<number | undefined>,
  ) {}

  /** The table's routes, read only when not known; undefined when the table does not exist. */
  async count(table: string): Promise<number | undefined> {
    const known = this.counts.get(table);
    if (known !== undefined) return known;
    const read = await this.read(table);
    if (read !== undefined) this.counts.set(table, read);
    return read;
  }

  /** A route call through the guard ended: the count follows its effect. */
  routeCall(action: string, table: string, ok: boolean): void {
    const known = this.counts.get(table);
    if (known === undefined) return;
    // A refused or failed call wrote nothing as AWS answers, but moto's errors are not all
    // AWS's: what the table holds after one is read again rather than assumed.
    if (!ok) this.counts.delete(table);
    else if (action === 'CreateRoute') this.counts.set(table, known + 1);
    else if (action === 'DeleteRoute') this.counts.set(table, Math.max(0, known - 1));
  }

  /** Some other write went through: every table is read again when next counted. */
  forgetAll(): void {
    this.counts.clear();
  }
}
