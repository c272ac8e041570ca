// nftables through `nft`: one `nft -f` transaction per change (all or nothing), and terse
// listings (no set elements) when a full sync needs to know which objects a table holds.
import { run } from './exec.js';

export interface NftOptions {
  netns?: string;
}

/** Runs an nft script as one transaction; on any error the kernel keeps what it had. */
export async function nftApply(script: string, opts: NftOptions = {}): Promise<void> {
  await run(['nft', '-f', '-'], { netns: opts.netns, input: script });
}

export interface NftTableObjects {
  chains: string[];
  sets: string[];
  maps: string[];
}

/** Names of the chains, sets and maps in a table; undefined when the table does not exist. */
export async function nftTableObjects(
  family: string,
  table: string,
  opts: NftOptions = {},
): Promise<NftTableObjects | undefined> {
  const r = await run(['nft', '-t', '-j', 'list', 'table', family, table], {
    netns: opts.netns,
    okCodes: [1],
  });
  if (r.code !== 0) return undefined;
  const doc = JSON.parse(r.stdout) as { nftables: Record<string, { name?: string }>[] };
  const out: NftTableObjects = { chains: [], sets: [], maps: [] };
  for (const item of doc.nftables) {
    if (item.chain?.name) out.chains.push(item.chain.name);
    if (item.set?.name) out.sets.push(item.set.name);
    if (item.map?.name) out.maps.push(item.map.name);
  }
  return out;
}

/** The rules of one chain as nft prints them, or undefined when it (or its table) is missing. */
export async function nftChainRules(
  family: string,
  table: string,
  chain: string,
  opts: NftOptions = {},
): Promise<string[] | undefined> {
  const r = await run(['nft', '-t', 'list', 'chain', family, table, chain], {
    netns: opts.netns,
    okCodes: [1],
  });
  if (r.code !== 0) return undefined;
  const lines = r.stdout.split('\n').map((l) => l.trim());
  const open = lines.findIndex((l) => l.startsWith(`chain ${chain} {`));
  return lines.slice(open + 1).filter((l) => l && l !== '}');
}
