// An agent's Prometheus metrics as the tests read them: from inside its host's namespace, where
// the agent serves them on loopback only.
import { spawnSync } from 'node:child_process';

const AGENT_METRICS_URL = 'http://127.0.0.1:9101/metrics';

/** The Prometheus text of the agent whose host namespace is `ns` (empty when it serves none). */
export function agentMetricsText(ns: string): string {
  const r = spawnSync(
    'ip',
    ['netns', 'exec', ns, 'busybox', 'wget', '-q', '-O', '-', AGENT_METRICS_URL],
    { encoding: 'utf8' },
  );
  return r.stdout ?? '';
}

/**
 * The sum of `metric`'s samples in `text` that carry every one of `labels`; undefined when no
 * sample does (a labelled counter shows no sample before its first count).
 */
export function metricValue(
  text: string,
  metric: string,
  labels: Record<string, string> = {},
): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (sample?.[1] !== metric) continue;
    // A value may hold commas (`policy="x/a,x/b"`): the pairs are read whole.
    const held = new Map(
      [...(sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (!Object.entries(labels).every(([k, v]) => held.get(k) === v)) continue;
    sum = (sum ?? 0) + Number(sample[3]);
  }
  return sum;
}

/** `metric` of the agent in host namespace `ns`, 0 when it has no such sample (see metricValue). */
export function agentMetric(
  ns: string,
  metric: string,
  labels: Record<string, string> = {},
): number {
  return metricValue(agentMetricsText(ns), metric, labels) ?? 0;
}
