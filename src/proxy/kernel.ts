// What the proxy needs of the kernel, as interfaces its users inject: the real ones run `nft`,
// `iptables-restore` and `conntrack` (src/kernel/), in-memory fakes let the sync loops run in
// unit tests without root. A write is one transaction value (an nft script, restore text) that
// the kernel takes whole or refuses whole.
import type { StaleFlow } from '../kernel/conntrack.js';
import type { IptablesTable } from './iptables-rules.js';

export interface NftablesKernel {
  /** Runs an nft script as one transaction; on any error nothing changes. */
  run(script: string): Promise<void>;
  /** The rules of one chain as nft prints them, or undefined when it (or its table) is missing. */
  listChain(family: string, table: string, chain: string): Promise<string[] | undefined>;
}

export interface IptablesKernel {
  /** `iptables-restore --noflush`: all lines or none. */
  restore(text: string): Promise<void>;
  /** `iptables-save -t TABLE`. */
  save(table: IptablesTable): Promise<string>;
  /** The rules of one chain (`-S` lines starting with `-A`), or undefined when it is missing. */
  listChain(table: IptablesTable, chain: string): Promise<string[] | undefined>;
}

export interface ConntrackKernel {
  /** Deletes the entries of each flow; "nothing to delete" is not an error. */
  deleteStaleFlows(flows: StaleFlow[]): Promise<void>;
  /** Gets ready, so that the first deletion waits for nothing (an in-memory one needs not). */
  prepare?(): void;
}

/** The kernel access of one host's proxy, whichever mode it runs. */
export interface ProxyKernel {
  nftables: NftablesKernel;
  iptables: IptablesKernel;
  conntrack: ConntrackKernel;
}
