// The kernel's connection events, read from one long-lived `conntrack -E` per agent: the
// kernel pushes an event when a connection is confirmed or destroyed, so nothing here runs per
// packet. Only those two are asked for: the state changes in between are most of a TCP
// connection's events (five of seven for a short one) and a flow needs none of them. A reader
// that dies is started again; the kernel's own reports of dropped events are handed on to be
// counted.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Readable } from 'node:stream';

const RESTART_MS = 1000;
/** Room for bursts of short connections before the kernel has to drop events (8 MiB). */
const SOCKET_BUFFER_BYTES = 8 * 1024 * 1024;

export interface ConntrackEventHandlers {
  /** Each line conntrack prints on stdout (one event). */
  onEvent(line: string): void;
  /** Each line conntrack prints on stderr (its warnings, such as lost events). */
  onWarning(line: string): void;
  /** The reader stopped on its own; it is started again shortly. */
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
    const argv = [
      '-E',
      '-e',
      'NEW,DESTROY',
      '-o',
      'timestamp,id',
      '--buffer-size',
      `${SOCKET_BUFFER_BYTES}`,
    ];
    const proc = spawn('conntrack', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    eachLine(proc.stdout, handlers.onEvent);
    eachLine(proc.stderr, handlers.onWarning);
    proc.once('error', (err) => {
      if (!stopped) handlers.onExit(`could not run conntrack: ${err.message}`);
    });
    proc.once('exit', (code, signal) => {
      if (stopped) return;
      handlers.onExit(`conntrack -E ended (${signal ?? `exit ${code}`})`);
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
 * Hands each line of a stream to `fn`, cut from the chunks as they come: many events arrive in
 * one read, and a line reader's per-line machinery costs more than the parsing. Lines are cut
 * from the chunk itself (slices share its memory); only a line split across two reads is joined.
 */
export function eachLine(stream: Readable, fn: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    let from = 0;
    let nl = chunk.indexOf('\n');
    if (rest && nl >= 0) {
      fn(rest + chunk.slice(0, nl));
      rest = '';
      from = nl + 1;
      nl = chunk.indexOf('\n', from);
    }
    for (; nl >= 0; nl = chunk.indexOf('\n', from)) {
      fn(chunk.slice(from, nl));
      from = nl + 1;
    }
    rest += chunk.slice(from);
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
