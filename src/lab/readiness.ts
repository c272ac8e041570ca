// Readiness probes as kubelet runs them: a running container with a readinessProbe is Ready
// only once its probe has passed, so its pod joins its Services' endpoints when it serves,
// not when its process starts (a cluster DNS pod still loading the cluster, say). Pure: what
// to check and what a result means; the pod runner does the checking.
import type { Container, Probe, ProbePort } from '../api/types.js';
import { formatIP, tryParseIP } from '../net/index.js';

/** kubelet's defaults for the timing fields. */
export const PROBE_DEFAULTS = {
  initialDelaySeconds: 0,
  periodSeconds: 10,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
} as const;

export type ProbeCheck =
  | { kind: 'http'; url: string }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'exec'; argv: string[] }
  /** The probe names a port the container does not declare: it fails, as kubelet's does. */
  | { kind: 'unresolved'; reason: string };

export interface ProbeTiming {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

export function probeTiming(p: Probe): ProbeTiming {
  const d = PROBE_DEFAULTS;
  return {
    initialDelayMs: (p.initialDelaySeconds ?? d.initialDelaySeconds) * 1000,
    periodMs: (p.periodSeconds ?? d.periodSeconds) * 1000,
    timeoutMs: (p.timeoutSeconds ?? d.timeoutSeconds) * 1000,
    successThreshold: p.successThreshold ?? d.successThreshold,
    failureThreshold: p.failureThreshold ?? d.failureThreshold,
  };
}

function portNumberOf(c: Container, port: ProbePort): number | undefined {
  if (typeof port === 'number') return port;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

/** A URL host: an IPv6 address goes in brackets. */
function urlHost(host: string): string {
  const ip = tryParseIP(host);
  return ip?.family === 6 ? `[${formatIP(ip)}]` : host;
}

/**
 * What checking the container's readiness means, against the pod's address (a probe's own
 * `host` wins); undefined when the container has no probe this runner knows how to run, and
 * so is ready once it runs.
 */
export function probeCheck(c: Container, podIP: string): ProbeCheck | undefined {
  const p = c.readinessProbe;
  if (p?.exec) return { kind: 'exec', argv: p.exec.command };
  const handler = p?.httpGet ?? p?.tcpSocket;
  if (!handler) return undefined;
  const port = portNumberOf(c, handler.port);
  if (port === undefined) {
    return { kind: 'unresolved', reason: `no container port named "${handler.port}"` };
  }
  const host = handler.host ?? podIP;
  if (p?.tcpSocket) return { kind: 'tcp', host, port };
  const scheme = p?.httpGet?.scheme === 'HTTPS' ? 'https' : 'http';
  const path = p?.httpGet?.path ?? '/';
  return {
    kind: 'http',
    url: `${scheme}://${urlHost(host)}:${port}${path.startsWith('/') ? path : `/${path}`}`,
  };
}

/** A container's probe results so far: consecutive passes and failures, and the verdict. */
export interface ProbeState {
  ready: boolean;
  passes: number;
  failures: number;
}

/** A container starts unready, as kubelet's does, until its probe has passed. */
export const UNPROBED: ProbeState = { ready: false, passes: 0, failures: 0 };

/** The state after one more result: the thresholds count consecutive results. */
export function afterProbe(state: ProbeState, passed: boolean, t: ProbeTiming): ProbeState {
  if (passed) {
    const passes = state.passes + 1;
    return { ready: state.ready || passes >= t.successThreshold, passes, failures: 0 };
  }
  const failures = state.failures + 1;
  return { ready: state.ready && failures < t.failureThreshold, passes: 0, failures };
}
