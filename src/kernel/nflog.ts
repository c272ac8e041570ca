// Packets a netfilter rule sent to a netlink log group (iptables NFLOG, nft `log group`), read
// through `tcpdump -i nflog:GROUP -w -`: tcpdump owns the netlink socket, this module reads the
// pcap stream it writes. Each record is the NFLOG link type: a 4-byte header, then TLVs (length
// and type in host byte order, values padded to 4 bytes) among which the rule's prefix and the
// packet from its IP header on.
import { spawn, type ChildProcess } from 'node:child_process';
import { formatIP, ipFromBytes } from '../net/index.js';
import { inNetns } from '../process/run.js';

/** One logged packet: the rule's prefix and the IPv4 flow it belongs to. */
export interface LoggedPacket {
  prefix: string;
  /** IP protocol number (6 TCP, 17 UDP, 132 SCTP, …). */
  protocol: number;
  source: string;
  destination: string;
  /** 0 for protocols without ports. */
  sourcePort: number;
  destinationPort: number;
}

const LINKTYPE_NFLOG = 239;
const NFULA_PAYLOAD = 9;
const NFULA_PREFIX = 10;
/** Protocols whose header starts with the source and destination ports. */
const PORTED = new Set([6, 17, 132]);

/** Reads a pcap stream in whatever chunks it arrives, yielding the NFLOG packets in it. */
export class NflogPcapReader {
  private buffer = Buffer.alloc(0);
  private littleEndian: boolean | undefined;

  feed(chunk: Buffer): LoggedPacket[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const out: LoggedPacket[] = [];
    if (this.littleEndian === undefined) {
      if (this.buffer.length < 24) return out;
      const magic = this.buffer.readUInt32LE(0);
      if (magic !== 0xa1b2c3d4 && magic !== 0xd4c3b2a1)
        throw new Error('tcpdump did not write a pcap stream');
      this.littleEndian = magic === 0xa1b2c3d4;
      const linktype = this.u32(20);
      if (linktype !== LINKTYPE_NFLOG) throw new Error(`pcap link type ${linktype} is not NFLOG`);
      this.buffer = this.buffer.subarray(24);
    }
    while (this.buffer.length >= 16) {
      const length = this.u32(8);
      if (this.buffer.length < 16 + length) break;
      const packet = decodeNflog(this.buffer.subarray(16, 16 + length), this.littleEndian);
      if (packet) out.push(packet);
      this.buffer = this.buffer.subarray(16 + length);
    }
    return out;
  }

  private u32(at: number): number {
    return this.littleEndian ? this.buffer.readUInt32LE(at) : this.buffer.readUInt32BE(at);
  }
}

/** One NFLOG record, or undefined when it holds no IPv4 packet. */
export function decodeNflog(record: Buffer, littleEndian: boolean): LoggedPacket | undefined {
  if (record.length < 4 || record[0] !== 2 /* AF_INET */) return undefined;
  let prefix = '';
  let payload: Buffer | undefined;
  for (let at = 4; at + 4 <= record.length;) {
    const length = littleEndian ? record.readUInt16LE(at) : record.readUInt16BE(at);
    const type =
      (littleEndian ? record.readUInt16LE(at + 2) : record.readUInt16BE(at + 2)) & 0x7fff;
    if (length < 4) break;
    const value = record.subarray(at + 4, at + length);
    if (type === NFULA_PREFIX) prefix = value.toString('latin1').replace(/\0.*$/s, '');
    if (type === NFULA_PAYLOAD) payload = value;
    at += (length + 3) & ~3;
  }
  return payload ? decodeIPv4(prefix, payload) : undefined;
}

function decodeIPv4(prefix: string, ip: Buffer): LoggedPacket | undefined {
  if (ip.length < 20 || ip[0]! >> 4 !== 4) return undefined;
  const headerLength = (ip[0]! & 0x0f) * 4;
  const protocol = ip[9]!;
  const ports = PORTED.has(protocol) && ip.length >= headerLength + 4;
  return {
    prefix,
    protocol,
    source: formatIP(ipFromBytes([...ip.subarray(12, 16)])),
    destination: formatIP(ipFromBytes([...ip.subarray(16, 20)])),
    sourcePort: ports ? ip.readUInt16BE(headerLength) : 0,
    destinationPort: ports ? ip.readUInt16BE(headerLength + 2) : 0,
  };
}

export interface NflogSubscription {
  stop(): void;
}

/**
 * Reads log group `group` of the network namespace it runs in (or `netns`) until stopped;
 * `onError` hears of a reader that could not start or died.
 */
export function subscribeNflog(
  group: number,
  onPacket: (packet: LoggedPacket) => void,
  onError: (message: string) => void,
  netns?: string,
): NflogSubscription {
  // -U: each packet is written as it comes; -s 128: headers are all the log needs.
  const argv = inNetns(netns, ['tcpdump', '-i', `nflog:${group}`, '-U', '-s', '128', '-w', '-']);
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const reader = new NflogPcapReader();
  let stopped = false;
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-500)));
  child.stdout!.on('data', (chunk: Buffer) => {
    try {
      for (const packet of reader.feed(chunk)) onPacket(packet);
    } catch (err) {
      onError((err as Error).message);
      child.kill();
    }
  });
  child.on('error', (err) => onError(`could not run tcpdump: ${err.message}`));
  child.on('exit', (code) => {
    if (!stopped)
      onError(`tcpdump on nflog:${group} exited (${code}): ${stderr.trim().split('\n').at(-1)}`);
  });
  return {
    stop() {
      stopped = true;
      child.kill();
    },
  };
}
