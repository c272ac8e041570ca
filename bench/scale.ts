// Scale: the costs that grow with the cluster, measured on one machine at 10 %, 30 % and 100 %
// of a target size (default Kubernetes' published limits: 5,000 nodes, 150,000 pods, 10,000
// services), with three real agents and the real cluster DNS against a store holding it all;
// and a real agent as BGP route reflector for `--speakers` simulated nodes (default 500),
// beside the full mesh's cost at the same size.
// Prints a table of every figure against size and one line per figure:
//   BENCH scale <figure> value=<at 100 %> growth=<100 % ÷ 10 %> [goal=<bound> ratio=<value/goal>]
// The anchors are Kubernetes' own thresholds and SLOs (goals below); growth must stay <= 12x.
//   node dist/bench/scale.js [--nodes N] [--pods P] [--services S] [--speakers R]
//                            [--only cluster|bgp] [--snapshots DIR]
// --snapshots keeps node-2's agent's heap snapshot of each step in DIR (agent_live_mb is its sum).
import { parseArgs } from 'node:util';
import { growth, runScale, stepTable, type ScaleStep } from './lib/scale-run.js';
import { runReflectorScale } from './lib/scale-bgp.js';

/** Kubernetes' SLOs and the issue's goals at full size, in each figure's unit. */
const GOALS: Record<string, number> = {
  agent_rss_mb: 300,
  dns_rss_mb: 400,
  node_join_ms: 200,
  pod_start_ms: 5000,
  agent_resync_s: 5,
  list_pods_ms: 5000,
  rr_agent_rss_mb: 300,
};
const MAX_GROWTH = 12;
const FRACTIONS = [0.1, 0.3, 1];

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5000' },
    pods: { type: 'string', default: '150000' },
    services: { type: 'string', default: '10000' },
    speakers: { type: 'string', default: '500' },
    only: { type: 'string' },
    snapshots: { type: 'string' },
  },
});
const target = {
  nodes: Number(values.nodes),
  pods: Number(values.pods),
  services: Number(values.services),
};

function report(steps: readonly ScaleStep[]): void {
  console.log(stepTable(steps));
  for (const figure of steps[0]!.figures.keys()) {
    const value = steps[steps.length - 1]!.figures.get(figure)!;
    const g = growth(steps, figure);
    const goal = GOALS[figure];
    const judged = goal === undefined ? '' : ` goal=${goal} ratio=${(value / goal).toFixed(2)}`;
    const flag = g > MAX_GROWTH ? ' (grows faster than linear)' : '';
    console.log(
      `BENCH scale ${figure} value=${value.toFixed(1)} growth=${g.toFixed(2)}${judged}${flag}`,
    );
  }
}

if (values.only !== 'bgp') {
  report(
    await runScale(target, FRACTIONS, (line) => console.error(line), {
      snapshotDir: values.snapshots,
    }),
  );
}
if (values.only !== 'cluster') {
  report(
    await runReflectorScale(Number(values.speakers), FRACTIONS, (line) => console.error(line)),
  );
}
