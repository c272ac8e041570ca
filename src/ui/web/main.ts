// The map in the browser: the server's elements drawn with Cytoscape.js (zones holding hosts
// holding pods, services beside their pods, links and BGP sessions between hosts), kept current
// from the server-sent events, every element also a row of its kind's table, the recent flows
// as edges with their rates (and a table), filtered by namespace, and traces drawn over the map.
// Types are the server's own (map-model.ts, flow-edges.ts, the flow record).
import cytoscape, { type Core, type ElementDefinition } from 'cytoscape';
import type { Flow } from '../../flows/types.js';
import type { FlowEdge } from '../server/flow-edges.js';
import type { ElementKind, MapElement, MapPatch } from '../server/map-model.js';
import type { PlacedHop } from '../server/trace-overlay.js';
import { RowTable, type Row } from './row-table.js';

/** The page's own query (the token, when the server needs one) goes with every request. */
const query = location.search;
const elements = new Map<string, MapElement>();
const statusLine = document.getElementById('status')!;
const tip = document.getElementById('tip')!;

const HEALTH_COLOURS = { ok: '#2e7d32', warn: '#e0a100', bad: '#c62828' };

const cy: Core = cytoscape({
  container: document.getElementById('map'),
  wheelSensitivity: 0.3,
  style: [
    {
      selector: 'node',
      style: {
        label: 'data(label)',
        // Labels too small to read on a zoomed-out big map are not drawn: they cost most of a frame.
        'min-zoomed-font-size': 6,
        'font-size': 10,
        'text-valign': 'center',
        'text-halign': 'center',
      },
    },
    {
      selector: 'node[kind = "zone"]',
      style: {
        'background-color': '#eef2f7',
        'border-color': '#9aa7b8',
        'border-width': 1,
        'text-valign': 'top',
        'font-size': 13,
      },
    },
    {
      selector: 'node[kind = "host"]',
      style: {
        'background-color': '#dce8f5',
        'border-width': 3,
        'border-color': 'data(colour)',
        'text-valign': 'top',
        'font-size': 12,
      },
    },
    {
      selector: 'node[kind = "pod"]',
      style: {
        shape: 'round-rectangle',
        width: 60,
        height: 22,
        'background-color': '#ffffff',
        'border-width': 2,
        'border-color': 'data(colour)',
      },
    },
    {
      selector: 'node[kind = "service"]',
      style: {
        shape: 'hexagon',
        width: 70,
        height: 34,
        'background-color': '#ede7f6',
        'border-width': 2,
        'border-color': 'data(colour)',
      },
    },
    {
      selector: 'edge',
      style: {
        width: 1.5,
        'curve-style': 'bezier',
        'min-zoomed-font-size': 6,
        'font-size': 9,
        'text-background-color': '#fff',
        'text-background-opacity': 0.8,
      },
    },
    {
      selector: 'edge[kind = "endpoint"]',
      style: {
        'line-color': '#9575cd',
        'target-arrow-shape': 'triangle',
        'target-arrow-color': '#9575cd',
      },
    },
    {
      selector: 'edge[kind = "link"]',
      style: { label: 'data(label)', 'line-color': 'data(colour)', 'line-opacity': 0.6 },
    },
    {
      selector: 'edge[kind = "bgp"]',
      style: { label: 'data(label)', 'line-style': 'dashed', 'line-color': 'data(colour)' },
    },
    {
      selector: 'edge[kind = "flow"]',
      style: {
        label: 'data(label)',
        width: 'data(width)',
        'line-color': 'data(colour)',
        'target-arrow-shape': 'triangle',
        'target-arrow-color': 'data(colour)',
        'line-opacity': 0.8,
      },
    },
    {
      selector: 'node.traced',
      style: { 'border-color': '#1565c0', 'border-width': 5 },
    },
    {
      selector: 'node.broken',
      style: { 'border-color': '#c62828', 'background-color': '#fde2e1', 'border-width': 6 },
    },
  ],
});

function definition(e: MapElement): ElementDefinition {
  const data: Record<string, unknown> = {
    id: e.id,
    kind: e.kind,
    label: e.label,
    colour: HEALTH_COLOURS[e.health],
  };
  if (e.parent && elements.has(e.parent)) data.parent = e.parent;
  if (e.source) data.source = e.source;
  if (e.target) data.target = e.target;
  return { group: e.source ? 'edges' : 'nodes', data };
}

const NODE_ORDER: ElementKind[] = ['zone', 'host', 'pod', 'service'];

/** Kinds whose arrival or departure reshapes the map; a pod just joins its host. */
const SHAPING: ElementKind[] = ['zone', 'host', 'service'];

type Positions = Record<string, { x: number; y: number }>;

/** A map past the force layout's limit: laid out as grids, its links between hosts left out. */
let dense = false;

/**
 * Between a hundred hosts there are thousands of links, a thicket that reads as nothing and
 * costs most of every frame: a dense map lists them in their table only.
 */
function drawn(e: MapElement): boolean {
  return !(dense && e.kind === 'link');
}

/**
 * Zoomed out on a dense map, thousands of pods are specks that cost most of every frame (each
 * is drawn on its own): they are hidden, and shown again from this zoom in, where one can be
 * read. Their hosts keep their size, so nothing moves.
 */
const PODS_ZOOM = 0.4;
let podsShown = true;

function showPodsByZoom(): void {
  const show = !dense || cy.zoom() >= PODS_ZOOM;
  if (show === podsShown) return;
  podsShown = show;
  cy.style()
    .selector('node[kind = "pod"]')
    .style('visibility', show ? 'visible' : 'hidden')
    .update();
}
cy.on('zoom', showPodsByZoom);

/**
 * Puts elements on the map: parents before children, nodes before the edges between them.
 * Returns whether the map needs laying out again.
 */
function draw(list: MapElement[]): boolean {
  let reshaped = false;
  const ordered = list.filter(drawn).sort((a, b) => rank(a) - rank(b));
  cy.startBatch();
  for (const e of ordered) {
    const existing = cy.getElementById(e.id);
    const def = definition(e);
    if (existing.nonempty() && existing.data('parent') === def.data.parent) {
      existing.data(def.data);
      continue;
    }
    existing.remove();
    if (e.source && (cy.getElementById(e.source).empty() || cy.getElementById(e.target!).empty()))
      continue;
    const parent = e.parent ? cy.getElementById(e.parent) : undefined;
    if (parent?.nonempty() && !SHAPING.includes(e.kind)) {
      // Beside its host's other pods, without moving anything else.
      const { x, y } = parent.position();
      def.position = { x: x + (Math.random() - 0.5) * 40, y: y + (Math.random() - 0.5) * 40 };
    } else if (!e.source) reshaped = true;
    cy.add(def);
  }
  cy.endBatch();
  return reshaped;
}

function rank(e: MapElement): number {
  const i = NODE_ORDER.indexOf(e.kind);
  return i < 0 ? NODE_ORDER.length : i;
}

/**
 * Past this many elements a force-directed layout takes seconds in the browser; a big map is
 * laid out as nested grids instead (zones side by side, hosts in a grid, pods in a grid).
 */
const FORCE_LAYOUT_LIMIT = 400;
const POD_W = 70;
const POD_H = 30;

function gridOf(count: number): { cols: number; rows: number } {
  const cols = Math.max(1, Math.ceil(Math.sqrt(count)));
  return { cols, rows: Math.max(1, Math.ceil(count / cols)) };
}

function nestedGridPositions(): Positions {
  const positions: Positions = {};
  const childrenOf = new Map<string, MapElement[]>();
  for (const e of elements.values()) {
    if (e.source || !e.parent) continue;
    const siblings = childrenOf.get(e.parent);
    if (siblings) siblings.push(e);
    else childrenOf.set(e.parent, [e]);
  }
  const zones = [...elements.values()].filter((e) => e.kind === 'zone');
  const podGrid = gridOf(Math.max(1, ...[...childrenOf.values()].map((c) => c.length)));
  const hostW = podGrid.cols * POD_W + 40;
  const hostH = podGrid.rows * POD_H + 40;
  let zoneX = 0;
  let bottom = 0;
  for (const zone of zones) {
    const hosts = childrenOf.get(zone.id) ?? [];
    const hostGrid = gridOf(hosts.length);
    hosts.forEach((host, h) => {
      const hx = zoneX + (h % hostGrid.cols) * hostW;
      const hy = Math.floor(h / hostGrid.cols) * hostH;
      (childrenOf.get(host.id) ?? []).forEach((pod, i) => {
        positions[pod.id] = {
          x: hx + (i % podGrid.cols) * POD_W,
          y: hy + Math.floor(i / podGrid.cols) * POD_H,
        };
      });
      positions[host.id] ??= { x: hx, y: hy };
    });
    zoneX += hostGrid.cols * hostW + 80;
    bottom = Math.max(bottom, hostGrid.rows * hostH);
  }
  [...elements.values()]
    .filter((e) => e.kind === 'service')
    .forEach(
      (svc, i) =>
        (positions[svc.id] = { x: (i % 40) * 90, y: bottom + 120 + Math.floor(i / 40) * 50 }),
    );
  return positions;
}

let layoutTimer: number | undefined;
function relayout(): void {
  window.clearTimeout(layoutTimer);
  layoutTimer = window.setTimeout(() => {
    if (cy.nodes().length > FORCE_LAYOUT_LIMIT) {
      const positions = nestedGridPositions();
      // Nodes the grids do not place (compound parents, pods without a host) keep where they are.
      cy.nodes().forEach((n) => void (positions[n.id()] ??= { ...n.position() }));
      cy.layout({ name: 'preset', positions, fit: true }).run();
    } else {
      cy.layout({
        name: 'cose',
        animate: false,
        nodeDimensionsIncludeLabels: true,
        padding: 20,
      }).run();
    }
  }, 50);
}

function applySnapshot(list: MapElement[]): void {
  elements.clear();
  cy.elements().remove();
  for (const e of list) elements.set(e.id, e);
  const nodes = new Set(list.filter((e) => !e.source).map((e) => e.id));
  dense = nodes.size > FORCE_LAYOUT_LIMIT;
  // Placed as they are added, in one call, so that the first paint is already the finished map.
  const positions: Positions = dense ? nestedGridPositions() : {};
  cy.add(
    [...list]
      .sort((a, b) => rank(a) - rank(b))
      .filter((e) => drawn(e) && (!e.source || (nodes.has(e.source) && nodes.has(e.target!))))
      .map((e) => ({
        ...definition(e),
        ...(positions[e.id] ? { position: positions[e.id] } : {}),
      })),
  );
  if (dense) cy.fit();
  else relayout();
  showPodsByZoom();
  renderTables();
  renderFlows();
}

function applyPatch(patch: MapPatch): void {
  let reshaped = false;
  const removed: MapElement[] = [];
  for (const id of patch.remove) {
    const e = elements.get(id);
    if (e) removed.push(e);
    reshaped ||= SHAPING.includes(e?.kind ?? 'pod');
    elements.delete(id);
    cy.getElementById(id).remove();
  }
  for (const e of patch.upsert) elements.set(e.id, e);
  // Children whose parent just arrived are drawn again so they move inside it; only zones and
  // hosts hold anything, so a patch of pods skips the look.
  const parents = new Set(patch.upsert.filter((e) => SHAPING.includes(e.kind)).map((e) => e.id));
  const children =
    parents.size === 0
      ? []
      : [...elements.values()].filter((e) => e.parent && parents.has(e.parent));
  if (draw([...patch.upsert, ...children]) || reshaped) relayout();
  updateTables(removed, patch.upsert);
}

// ---- tables: every view also as rows, for people who do not read pictures ----

const TABLES: { kind: ElementKind | 'trace' | 'flow'; title: string }[] = [
  { kind: 'host', title: 'Hosts' },
  { kind: 'pod', title: 'Pods' },
  { kind: 'service', title: 'Services' },
  { kind: 'link', title: 'Links between hosts' },
  { kind: 'bgp', title: 'BGP sessions' },
  { kind: 'trace', title: 'Trace' },
  { kind: 'flow', title: 'Flows' },
];

const tables = new Map<string, RowTable>();

function tableFor(kind: string, title: string): RowTable {
  let table = tables.get(kind);
  if (!table) {
    const element = document.createElement('table');
    element.dataset.kind = kind;
    element.createCaption().textContent = title;
    // Each table in its own section, which the browser may skip laying out while off screen.
    const section = document.createElement('section');
    section.append(element);
    document.getElementById('tables')!.append(section);
    table = new RowTable(element);
    tables.set(kind, table);
  }
  return table;
}

function rowOf(e: MapElement): Row {
  return {
    id: e.id,
    health: e.health,
    ...(e.hint ? { hint: e.hint } : {}),
    cells: [...Object.values(e.fields), e.hint ?? ''],
  };
}

function columnsOf(e: MapElement | undefined): string[] {
  return [...Object.keys(e?.fields ?? {}), 'problem'];
}

/** Fills every table of the map's elements anew (and makes the empty trace and flow tables). */
function renderTables(): void {
  for (const { kind, title } of TABLES) {
    const table = tableFor(kind, title);
    if (kind === 'trace' || kind === 'flow') continue;
    const rows = [...elements.values()].filter((e) => e.kind === kind);
    table.replace(columnsOf(rows[0]), rows.map(rowOf));
  }
  renderPodChoices();
}

/** Changes only the rows a patch names; a kind whose columns changed is filled anew. */
function updateTables(removed: readonly MapElement[], upserted: readonly MapElement[]): void {
  for (const e of removed) tables.get(e.kind)?.remove(e.id);
  const refill = new Set<string>();
  for (const e of upserted) {
    const table = tables.get(e.kind);
    if (!table) continue;
    if (table.hasColumns(columnsOf(e))) table.upsert(rowOf(e));
    else refill.add(e.kind);
  }
  for (const kind of refill) {
    const rows = [...elements.values()].filter((e) => e.kind === kind);
    tables.get(kind)!.replace(columnsOf(rows[0]), rows.map(rowOf));
  }
  updatePodChoices(removed, upserted);
}

const podChoice = document.getElementById('trace-pod') as HTMLSelectElement;
const podOptions = new Map<string, HTMLOptionElement>();
const podName = (e: MapElement): string => `${e.fields.namespace}/${e.fields.pod}`;

function renderPodChoices(): void {
  const chosen = podChoice.value;
  podOptions.clear();
  for (const e of elements.values())
    if (e.kind === 'pod') podOptions.set(e.id, new Option(podName(e), podName(e)));
  podChoice.replaceChildren(...podOptions.values());
  if ([...podOptions.values()].some((o) => o.value === chosen)) podChoice.value = chosen;
}

function updatePodChoices(removed: readonly MapElement[], upserted: readonly MapElement[]): void {
  for (const e of removed) {
    podOptions.get(e.id)?.remove();
    podOptions.delete(e.id);
  }
  for (const e of upserted) {
    if (e.kind !== 'pod' || podOptions.has(e.id)) continue;
    const option = new Option(podName(e), podName(e));
    podOptions.set(e.id, option);
    podChoice.append(option);
  }
}

// ---- flows: edges with rates and a table, filtered by namespace ----

const VERDICT_COLOURS = { forwarded: '#00897b', refused: '#e0a100', denied: '#c62828' };
let flowsView: { flows: Flow[]; edges: FlowEdge[] } = { flows: [], edges: [] };
const namespaceChoice = document.getElementById('flow-namespace') as HTMLSelectElement;

function inNamespace(namespaces: (string | undefined)[]): boolean {
  return !namespaceChoice.value || namespaces.includes(namespaceChoice.value);
}

function flowNamespaces(f: Flow): (string | undefined)[] {
  return [f.source.pod, f.destination.pod]
    .map((p) => p?.split('/')[0])
    .concat(f.service?.namespace);
}

/** Replaces the flow edges (drawn only between ends on the map) and the flows table. */
function renderFlows(): void {
  cy.startBatch();
  cy.edges('[kind = "flow"]').remove();
  for (const e of flowsView.edges) {
    if (!inNamespace(e.namespaces)) continue;
    if (cy.getElementById(e.source).empty() || cy.getElementById(e.target).empty()) continue;
    cy.add({
      group: 'edges',
      data: {
        id: e.id,
        kind: 'flow',
        source: e.source,
        target: e.target,
        label: `${e.rate.toFixed(1)}/s`,
        width: Math.min(8, 1.5 + e.rate),
        colour: VERDICT_COLOURS[e.verdict],
      },
    });
  }
  cy.endBatch();
  const end = (pod: string | undefined, ip: string, port: number) => `${pod ?? ip}:${port}`;
  const rows = flowsView.flows.filter((f) => inNamespace(flowNamespaces(f))).reverse();
  tableFor('flow', 'Flows').replace(
    ['start', 'source', 'service', 'destination', 'protocol', 'path', 'verdict', 'bytes'],
    rows.map((f) => ({
      id: f.id,
      health: f.verdict === 'forwarded' ? 'ok' : f.verdict === 'refused' ? 'warn' : 'bad',
      cells: [
        f.start.slice(11, 23),
        end(f.source.pod, f.source.ip, f.source.port),
        f.service ? `${f.service.namespace}/${f.service.name}:${f.service.port}` : '',
        end(f.destination.pod, f.destination.ip, f.destination.port),
        f.protocol,
        f.path,
        f.policies ? `${f.verdict} by ${f.policies.join(', ')}` : f.verdict,
        f.traffic ? `↑${f.traffic.sent.bytes} ↓${f.traffic.received.bytes}` : '',
      ],
    })),
  );
  renderNamespaceChoices();
}

function renderNamespaceChoices(): void {
  const namespaces = new Set<string>();
  for (const e of elements.values()) if (e.kind === 'pod') namespaces.add(e.fields.namespace!);
  const wanted = ['', ...[...namespaces].sort()];
  if ([...namespaceChoice.options].map((o) => o.value).join() === wanted.join()) return;
  const chosen = namespaceChoice.value;
  namespaceChoice.replaceChildren(...wanted.map((ns) => new Option(ns || 'every namespace', ns)));
  namespaceChoice.value = wanted.includes(chosen) ? chosen : '';
}

namespaceChoice.addEventListener('change', renderFlows);

// ---- hover: what is wrong and its fix ----

cy.on('mouseover', 'node, edge', (evt) => {
  const hint = elements.get(evt.target.id() as string)?.hint;
  if (!hint) return;
  tip.textContent = hint;
  tip.style.display = 'block';
  const { x, y } = evt.renderedPosition ?? { x: 0, y: 0 };
  const box = (document.getElementById('map') as HTMLElement).getBoundingClientRect();
  tip.style.left = `${box.left + x + 12}px`;
  tip.style.top = `${box.top + y + 12}px`;
});
cy.on('mouseout', 'node, edge', () => (tip.style.display = 'none'));

// ---- trace ----

function clearTrace(): void {
  cy.elements().removeClass('traced broken');
  tableFor('trace', 'Trace').replace([], []);
}

function drawTrace(hops: PlacedHop[], verdict: { ok: boolean; text: string }): void {
  clearTrace();
  const broken = hops.find((h) => !h.ok);
  for (const hop of hops) {
    for (const id of hop.on) cy.getElementById(id).addClass(hop === broken ? 'broken' : 'traced');
  }
  tableFor('trace', 'Trace').replace(
    ['step', 'direction', 'ok', 'detail', 'on the map'],
    hops.map((h, i) => ({
      id: `hop/${i}`,
      health: h.ok ? 'ok' : 'bad',
      cells: [h.step, h.direction ?? '', h.ok ? 'ok' : 'FAIL', h.detail, h.on.join(' ')],
    })),
  );
  document.querySelector('table[data-kind="trace"] caption')!.textContent =
    `Trace: ${verdict.text}`;
}

document.getElementById('trace-form')!.addEventListener('submit', (evt) => {
  evt.preventDefault();
  const [namespace, pod] = podChoice.value.split('/');
  const destination = (document.getElementById('trace-dest') as HTMLInputElement).value.trim();
  statusLine.textContent = 'tracing…';
  void fetch(`api/trace${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ namespace, pod, destination }),
  })
    .then(async (res) => {
      const body = (await res.json()) as {
        hops?: PlacedHop[];
        verdict?: { ok: boolean; text: string };
        error?: string;
      };
      if (body.error || !body.hops || !body.verdict)
        throw new Error(body.error ?? `HTTP ${res.status}`);
      drawTrace(body.hops, body.verdict);
      statusLine.textContent = body.verdict.text;
    })
    .catch((err: Error) => (statusLine.textContent = `trace: ${err.message}`));
});
document.getElementById('trace-clear')!.addEventListener('click', clearTrace);

// ---- live ----

const events = new EventSource(`api/events${query}`);
events.addEventListener('snapshot', (m) => {
  applySnapshot(
    (JSON.parse((m as MessageEvent<string>).data) as { elements: MapElement[] }).elements,
  );
  statusLine.textContent = 'live';
  document.body.dataset.ready = 'true';
});
events.addEventListener('patch', (m) =>
  applyPatch(JSON.parse((m as MessageEvent<string>).data) as MapPatch),
);
events.addEventListener('flows', (m) => {
  flowsView = JSON.parse((m as MessageEvent<string>).data) as typeof flowsView;
  renderFlows();
});
events.addEventListener('error', () => (statusLine.textContent = 'reconnecting…'));

/** For tests and the curious: the drawn graph and the elements behind it. */
(window as unknown as { podnetMap: unknown }).podnetMap = { cy, elements, flows: () => flowsView };
