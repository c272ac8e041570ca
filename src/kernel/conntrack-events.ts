// The kernel's connection events, read from one long-lived `conntrack -E` per agent: the
// kernel pushes an event when a connection is confirmed, changes state or is destroyed, so
// nothing here runs per packet. A reader that dies is started again; the kernel's own
// reports of dropped events are handed on to be counted.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

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
    const argv = ['-E', '-o', 'extended,timestamp,id', '--buffer-size', `${SOCKET_BUFFER_BYTES}`];
    const proc = spawn('conntrack', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    createInterface({ input: proc.stdout }).on('line', handlers.onEvent);
    createInterface({ input: proc.stderr }).on('line', handlers.onWarning);
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
 * Turns on conntrack's byte and packet counters and its start/stop timestamps in the network
 * namespace this process runs in (both are off by default; each namespace has its own).
 */
export function enableConntrackAccounting(): void {
  writeFileSync('/proc/sys/net/netfilter/nf_conntrack_acct', '1');
  writeFileSync('/proc/sys/net/netfilter/nf_conntrack_timestamp', '1');
}
