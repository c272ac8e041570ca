// Discovery documents: what kubectl reads first to learn which resources exist, their names,
// scope and verbs (legacy JSON forms; clients that prefer aggregated discovery fall back to them).
import { RESOURCES, SUBRESOURCES, VERBS, groupVersion, type Resource } from './resources.js';
import { REVIEWS, type Review } from './reviews.js';

/** The Kubernetes minor version whose API this server speaks. */
export const SERVED_VERSION = { major: '1', minor: '32' };

export function versionInfo() {
  return {
    ...SERVED_VERSION,
    gitVersion: `v${SERVED_VERSION.major}.${SERVED_VERSION.minor}.0-podnet`,
    gitCommit: '',
    gitTreeState: 'clean',
    buildDate: '1970-01-01T00:00:00Z',
    goVersion: '',
    compiler: 'podnet',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

export function coreVersions(serverAddress: string) {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function apiGroup(name: string) {
  const served = [...RESOURCES, ...REVIEWS].filter((r) => r.group === name);
  const versions = [...new Set(served.map((r) => r.version))];
  const list = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { kind: 'APIGroup', apiVersion: 'v1', name, versions: list, preferredVersion: list[0] };
}

/** The named groups (everything but the core group), in table order. */
export function groupNames(): string[] {
  return [...new Set([...RESOURCES, ...REVIEWS].map((r) => r.group).filter((g) => g !== ''))];
}

export function groupList() {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groupNames().map(apiGroup) };
}

export function group(name: string) {
  return groupNames().includes(name) ? apiGroup(name) : undefined;
}

export function resourceList(groupName: string, version: string) {
  const served = RESOURCES.filter((r) => r.group === groupName && r.version === version);
  const reviews = REVIEWS.filter((r) => r.group === groupName && r.version === version);
  if (served.length === 0 && reviews.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: groupVersion({ group: groupName, version }),
    resources: [...served.flatMap(entries), ...reviews.map(reviewEntry)],
  };
}

/** A review is only ever created: asked and answered, never stored. */
function reviewEntry(r: Review) {
  return { name: r.plural, singularName: '', namespaced: false, kind: r.kind, verbs: ['create'] };
}

function entries(r: Resource) {
  const main = {
    name: r.plural,
    singularName: r.singular,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: [...VERBS],
    ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
    ...(r.categories.length > 0 ? { categories: r.categories } : {}),
  };
  const subs = r.subresources.map((s) => {
    const { verbs, kind, group, version } = SUBRESOURCES[s]!;
    return {
      name: `${r.plural}/${s}`,
      singularName: '',
      namespaced: r.namespaced,
      ...(group !== undefined ? { group, version } : {}),
      kind: kind ?? r.kind,
      verbs: [...verbs],
    };
  });
  return [main, ...subs];
}
