// The guard's kernel in memory: the fake nft holds the table (and refuses what nft refuses),
// this adds the named counters the fake does not know, with packets a test can count up.
import { GUARD_TABLE, type GuardKernel } from '../../src/policy/guard.js';
import { FakeNftables } from './fake-nftables.js';

export class FakeGuardKernel implements GuardKernel {
  readonly nft = new FakeNftables();
  readonly packets = new Map<string, number>();

  async run(script: string): Promise<void> {
    const counters: string[] = [];
    const rest = script
      .split('\n')
      .filter((line) => {
        const m = new RegExp(`^add counter ${GUARD_TABLE} ([\\w-]+)$`).exec(line);
        if (m) counters.push(m[1]!);
        return !m;
      })
      .join('\n');
    await this.nft.run(rest);
    for (const name of counters) if (!this.packets.has(name)) this.packets.set(name, 0);
  }

  async list(): Promise<{
    chains: Map<string, string[]>;
    sets: Map<string, string[]>;
    counters: Map<string, number>;
  }> {
    const [family, table] = GUARD_TABLE.split(' ') as [string, string];
    const held = this.nft.tables.get(GUARD_TABLE);
    const chains = new Map<string, string[]>();
    for (const name of held?.chains.keys() ?? [])
      chains.set(name, (await this.nft.listChain(family, table, name)) ?? []);
    const sets = new Map([...(held?.sets ?? [])].map(([n, s]) => [n, [...s.elements.values()]]));
    return { chains, sets, counters: new Map(this.packets) };
  }

  /** A set's elements, for a test to look at (the guard reads through `list`). */
  async listSet(set: string): Promise<string[] | undefined> {
    const s = this.nft.tables.get(GUARD_TABLE)?.sets.get(set);
    return s ? [...s.elements.values()] : undefined;
  }

  async counters(): Promise<Map<string, number>> {
    return new Map(this.packets);
  }

  /** Transactions sent so far. */
  get transactions(): readonly string[] {
    return this.nft.transactions;
  }
}
