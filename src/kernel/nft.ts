// nftables through `nft`: one `nft -f` transaction per change (all or nothing). Listings are
// kept to small tables: nft 1.0.6 fetches every set element of a table it lists.
import { run } from '../process/run.js';

export interface NftOptions {
  netns?: string;
}

/** Runs an nft script as one transaction; on any error the kernel keeps what it had. */
export async function nftApply(script: string, opts: NftOptions = {}): Promise<void> {
  await run(['nft', '-f', '-'], { netns: opts.netns, input: script });
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

/** nft bound to one network namespace: what a proxier is given. */
export function nftKernel(netns?: string): {
  run(script: string): Promise<void>;
  listChain(family: string, table: string, chain: string): Promise<string[] | undefined>;
} {
  return {
    run: (script) => nftApply(script, { netns }),
    listChain: (family, table, chain) => nftChainRules(family, table, chain, { netns }),
  };
}
