// Which `ip route` lines bring the kernel's podnet routes (proto 80) in line with the learnt
// routes: pure, so the speaker's kernel sync applies only the difference.
import { PODNET_ROUTE_PROTO } from '../kernel/netobjects.js';

export function routeLines(
  wanted: ReadonlyMap<string, string>,
  installed: ReadonlyMap<string, string>,
): string[] {
  const lines: string[] = [];
  for (const [prefix, nextHop] of installed) {
    if (!wanted.has(prefix)) lines.push(`del ${prefix} via ${nextHop} proto ${PODNET_ROUTE_PROTO}`);
  }
  for (const [prefix, nextHop] of wanted) {
    if (installed.get(prefix) !== nextHop) {
      lines.push(`replace ${prefix} via ${nextHop} proto ${PODNET_ROUTE_PROTO}`);
    }
  }
  return lines;
}
