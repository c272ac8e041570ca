// Which elements of the map each hop of `podnet trace` speaks of, so the browser can draw the
// path over the map: the hop's words are matched against hosts, pods and services by name and
// address. Pure.
import type { MapElement } from './map-model.js';

/** A hop as `podnet trace -o json` prints it. */
export interface TraceHop {
  step: string;
  ok: boolean;
  detail: string;
  direction?: string;
}

export interface PlacedHop extends TraceHop {
  /** Ids of the map elements the hop names, in map order. */
  on: string[];
}

/** Names and addresses are the words of a detail; punctuation around them is not part of one. */
function words(detail: string): Set<string> {
  return new Set(
    detail
      .split(/[^A-Za-z0-9._-]+/)
      .map((w) => w.replace(/\.+$/, ''))
      .filter((w) => w !== ''),
  );
}

function keysOf(e: MapElement): string[] {
  switch (e.kind) {
    case 'host':
      return [e.label, e.fields.address ?? ''];
    case 'pod':
      return [e.label, e.fields.ip ?? ''];
    case 'service':
      return [e.label, e.fields.clusterIP ?? ''];
    default:
      return [];
  }
}

export function placeHops(hops: readonly TraceHop[], elements: readonly MapElement[]): PlacedHop[] {
  const named = elements
    .map((e) => ({ id: e.id, keys: keysOf(e).filter((k) => k !== '') }))
    .filter((e) => e.keys.length > 0);
  return hops.map((hop) => {
    const w = words(hop.detail);
    return { ...hop, on: named.filter((e) => e.keys.some((k) => w.has(k))).map((e) => e.id) };
  });
}
