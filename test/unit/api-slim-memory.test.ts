// What the agent's caches cost per object, measured: the scale bench's cluster (pods of 25 per
// node, 500 services of 10 pods, their slices and Endpoints) decoded from JSON one object at a
// time as the informer does, through the agent's transforms, with the heap collected before and
// after. Without the sharing a pod costs about 930 bytes, a slice endpoint 420 and an Endpoints
// address 300 (measured on Node 24).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { desiredEndpoints, planEndpointSlices } from '../../src/api/endpoint-slices.js';
import { shareEndpointSlice, shareEndpoints } from '../../src/api/slim-endpoints.js';
import { Interner } from '../../src/api/slim-intern.js';
import { slimPod } from '../../src/api/slim-pod.js';
import type { EndpointSlice, Endpoints, Pod } from '../../src/api/types.js';
import { simPod, simService } from '../../bench/lib/scale-fixture.js';

const PODS = 5000;
const SERVICES = 500;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Bytes the heap holds more once `build` has run and its result is kept. */
function heapCost(build: () => unknown): { bytes: number; kept: unknown } {
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = build();
  gc();
  gc();
  return { bytes: process.memoryUsage().heapUsed - before, kept };
}

/** The stored text of each object, with a uid and revision as the store gives them. */
function stored<T extends { metadata: { uid?: string } }>(objects: T[]): string[] {
  return objects.map((o, i) => {
    o.metadata.uid = `${String(i).padStart(8, '0')}-aa69-4a2f-b0b0-c68f751df21e`;
    return JSON.stringify(o);
  });
}

const pods = Array.from({ length: PODS }, (_, i) => simPod(i, 25, SERVICES));
const podTexts = stored(pods);
const byService = new Map<string, Pod[]>();
for (const text of podTexts) {
  const pod = JSON.parse(text) as Pod;
  const app = pod.metadata.labels!.app!;
  byService.set(app, [...(byService.get(app) ?? []), pod]);
}
const slices: EndpointSlice[] = [];
const endpoints: Endpoints[] = [];
for (let i = 0; i < SERVICES; i++) {
  const svc = simService(i);
  const selected = byService.get(svc.metadata.name) ?? [];
  slices.push(...planEndpointSlices(svc, selected, [], () => ({ zone: 'zone-sim' })).create);
  endpoints.push(desiredEndpoints(svc, selected, () => ({ zone: 'zone-sim' })));
}
const sliceTexts = stored(slices);
const endpointsTexts = stored(endpoints);

test('agent caches: a pod, its slice endpoint and its Endpoints address cost their own data', (t) => {
  const shared = new Interner();
  const podCache = heapCost(() => {
    const cache = new Map<string, Pod>();
    for (const text of podTexts) {
      const pod = slimPod(JSON.parse(text) as Pod, shared);
      cache.set(`${pod.metadata.namespace}/${pod.metadata.name}`, pod);
    }
    return cache;
  });
  const cache = podCache.kept as Map<string, Pod>;
  const podOf = (namespace: string, name: string) => cache.get(`${namespace}/${name}`);
  const sliceCost = heapCost(() =>
    sliceTexts.map((t) => shareEndpointSlice(JSON.parse(t) as EndpointSlice, shared, podOf)),
  );
  const endpointsCost = heapCost(() =>
    endpointsTexts.map((t) => shareEndpoints(JSON.parse(t) as Endpoints, shared, podOf)),
  );
  const perPod = podCache.bytes / PODS;
  const perSliceEndpoint = sliceCost.bytes / PODS;
  const perAddress = endpointsCost.bytes / PODS;
  const figures = `pod ${perPod.toFixed(0)} B, slice endpoint ${perSliceEndpoint.toFixed(0)} B, Endpoints address ${perAddress.toFixed(0)} B`;
  t.diagnostic(figures);
  assert.ok(perPod < 520, figures);
  assert.ok(perSliceEndpoint < 280, figures);
  assert.ok(perAddress < 200, figures);
});
