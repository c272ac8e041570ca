// The kernel's connection events, read by one long-lived podnet-conntrack-events per agent (a
// small C program `make build` compiles): the kernel pushes an event when a connection is
// confirmed or destroyed, so nothing here runs per packet. Only those two are asked for: the
// state changes in between are most of a TCP connection's events (five of seven for a short
// one) and a flow needs none of them. The helper writes fixed-size records in batches, read
// here in place. A helper that dies is started again; the kernel's reports of dropped events
// are handed on to be counted.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { ConntrackEvent } from '../net/conntrack-event.js';
import { conntrackDecoder, RECORD_BYTES } from './conntrack-record.js';

const PROGRAM = new URL('../../bin/podnet-conntrack-events', import.meta.url).pathname;
const RESTART_MS = 1000;

export interface ConntrackEventHandlers {
  /** Each NEW or DESTROY event of a protocol a flow can be. */
  onEvent(ev: ConntrackEvent): void;
  /** The kernel dropped one or more events before the helper read them. */
  onLost(): void;
  /** The helper has subscribed (again, after a restart). */
  onReady?(): void;
  /** Each line the helper prints on stderr. */
  onWarning(line: string): void;
  /** The helper stopped on its own; it is started again shortly. */
  onExit(reason: string): void;
}

export interface ConntrackEventReader {
  stop(): void;
}

/** Reads events of the network namespace this process runs in until stopped. */
export function readConntrackEvents(handlers: ConntrackEventHandlers): ConntrackEventReader {
  let child: ChildProcess | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const start = (): void => {
    const proc = spawn(PROGRAM, [], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const decode = conntrackDecoder();
    eachRecord(proc.stdout, (buf, at) => {
      const record = decode(buf, at);
      if (!record) return;
      if (record.type === 'LOST') handlers.onLost();
      else if (record.type === 'READY') handlers.onReady?.();
      else handlers.onEvent(record);
    });
    createInterface({ input: proc.stderr }).on('line', handlers.onWarning);
    proc.once('error', (err) => {
      if (!stopped) handlers.onExit(`could not run podnet-conntrack-events: ${err.message}`);
    });
    proc.once('exit', (code, signal) => {
      if (stopped) return;
      handlers.onExit(`podnet-conntrack-events ended (${signal ?? `exit ${code}`})`);
      timer = setTimeout(start, RESTART_MS);
    });
  };
  start();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      child?.kill('SIGTERM');
    },
  };
}

/**
 * Hands each whole record of a stream to `fn` where it lies in the chunk read; only a record
 * split across two reads is copied, to be joined with the rest of it.
 */
export function eachRecord(stream: Readable, fn: (buf: Buffer, at: number) => void): void {
  let rest: Buffer | undefined;
  stream.on('data', (chunk: Buffer) => {
    const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
    let at = 0;
    for (; at + RECORD_BYTES <= buf.length; at += RECORD_BYTES) fn(buf, at);
    rest = at < buf.length ? Buffer.from(buf.subarray(at)) : undefined;
  });
}

/**
 * Turns on conntrack's byte and packet counters and its start/stop timestamps in the network
 * namespace this process runs in (both are off by default; each namespace has its own).
 */
export function enableConntrackAccounting(): void {
  writeFileSync('/proc/sys/net/netfilter/nf_conntrack_acct', '1');
  writeFileSync('/proc/sys/net/netfilter/nf_conntrack_timestamp', '1');
}
