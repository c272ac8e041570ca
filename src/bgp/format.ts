// Human tables for `podnet bgp status` / `podnet get bgp`.
import type { PeerStatus } from './speaker.js';
import type { RouteStatus } from './daemon.js';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('   ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export function formatUptime(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  return `${Math.floor(seconds / 3600)}h`;
}

/** Seconds a session has been up at `now`: from when it was established, else as reported. */
export function uptimeAt(peer: PeerStatus, now: number): number | undefined {
  if (peer.establishedSince === undefined) return peer.uptime;
  return Math.max(0, Math.floor((now - Date.parse(peer.establishedSince)) / 1000));
}

/** One row per session; `nodes[i]`, when given, names the node that session belongs to. */
export function formatSessions(
  peers: PeerStatus[],
  wide = false,
  nodes?: string[],
  now = Date.now(),
): string {
  const head = ['PEER', 'AS', 'TYPE', 'STATE', 'UPTIME', 'RECEIVED', 'ADVERTISED'];
  if (nodes) head.unshift('NODE');
  if (wide) head.push('STALE', 'REJECTED', 'LAST ERROR');
  const rows = peers.map((p, i) => {
    const row = [
      p.address,
      String(p.asNumber),
      p.kind + (p.rrClient ? ' (rr-client)' : ''),
      p.state,
      formatUptime(uptimeAt(p, now)),
      String(p.prefixesReceived),
      String(p.prefixesAdvertised),
    ];
    if (nodes) row.unshift(nodes[i] ?? '');
    if (wide) row.push(String(p.stalePrefixes), String(p.prefixesRejected), p.lastError ?? '');
    return row;
  });
  return table([head, ...rows]);
}

export function formatRoutes(routes: RouteStatus[]): string {
  const rows = routes.map((r) => [
    r.prefix,
    r.nextHop,
    r.from,
    r.asPath.join(' ') || '-',
    r.stale ? 'stale' : '',
  ]);
  return table([['PREFIX', 'NEXT HOP', 'FROM', 'AS PATH', ''], ...rows]);
}
