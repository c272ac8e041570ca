// `podnet apply`, `podnet get`, `podnet delete`: cluster objects in and out, kubectl's way.
// Parsing, validation and tables are imported when a verb runs, so other verbs start small.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_NAMESPACE, kindByAlias, kindByName, type KindInfo } from '../api/kinds.js';
import { listOf } from '../api/list.js';
import type { ClusterNetwork, KubeObject, Node, Pod, Service } from '../api/types.js';
import { OperationError, UsageError } from '../util/errors.js';
import { resolveStoreUrl } from './context.js';
import type { Store } from '../store/store.js';

async function withStore<T>(cmd: Command, fn: (store: Store) => Promise<T>): Promise<T> {
  const { openStore } = await import('../store/open.js');
  const store = await openStore(resolveStoreUrl(cmd));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function readManifest(file: string): { text: string; source: string } {
  if (file === '-') return { text: readFileSync(0, 'utf8'), source: 'stdin' };
  try {
    return { text: readFileSync(file, 'utf8'), source: file };
  } catch (err) {
    throw new UsageError(`-f ${file}: cannot read it (${(err as NodeJS.ErrnoException).code})`);
  }
}

function resourceName(obj: KubeObject): string {
  return `${obj.kind.toLowerCase()}/${obj.metadata.name}`;
}

/**
 * Admission of a Service before it is written: where its cluster IP and node ports are
 * allocated. For now a given clusterIP is kept as it is (validation already checked it is in
 * the service CIDR); the allocators of src/ipam/ are wired in here.
 */
export async function admitService(
  store: Store,
  svc: Service,
  network: ClusterNetwork['spec'],
): Promise<Service> {
  const { assignClusterIP, releaseClusterIP } = await import('../ipam/service-ips.js');
  const { assignNodePorts } = await import('../ipam/node-ports.js');
  const withIP = await assignClusterIP(store, svc, network);
  try {
    return await assignNodePorts(store, withIP);
  } catch (err) {
    // A rejected node port must not leave the cluster IP reserved for a service never written.
    if (!svc.spec.clusterIP) await releaseClusterIP(store, withIP);
    throw err;
  }
}

/** Frees what a deleted object held: a service's cluster IP and node ports, a node's subnet. */
async function releaseHeld(store: Store, obj: KubeObject): Promise<void> {
  if (obj.kind === 'Service') {
    const { releaseClusterIP } = await import('../ipam/service-ips.js');
    const { releaseNodePorts } = await import('../ipam/node-ports.js');
    await releaseClusterIP(store, obj);
    await releaseNodePorts(store, obj);
  } else if (obj.kind === 'Node') {
    const { releaseNodeSubnets } = await import('../ipam/subnet-lease.js');
    await releaseNodeSubnets(store, obj.metadata.name);
  }
}

/**
 * Everything that can reject a manifest, done before the first write: the checks against the
 * stored objects (immutable fields), pod placement and service admission.
 */
async function prepareApply(
  store: Store,
  objects: KubeObject[],
  network: ClusterNetwork['spec'],
): Promise<KubeObject[]> {
  const { getObject, listObjects } = await import('../store/objects.js');
  const { ImmutableFieldError, mergeForApply } = await import('../api/merge.js');
  const { schedulePods } = await import('../api/schedule.js');
  const errors: string[] = [];
  const existing = new Map<KubeObject, KubeObject | undefined>();
  for (const obj of objects) {
    const old = await getObject(store, obj.kind, obj.metadata.namespace, obj.metadata.name);
    existing.set(obj, old);
    try {
      mergeForApply(old, obj);
    } catch (err) {
      if (!(err instanceof ImmutableFieldError)) throw err;
      errors.push(`${obj.kind} ${describeName(obj)}: ${err.message}`);
    }
  }
  if (errors.length > 0) throw new UsageError(errors.join('\n'));

  // Pods without a node are spread over the nodes known now, including ones in this manifest.
  const pending = objects.filter(
    (o): o is Pod =>
      o.kind === 'Pod' && !o.spec.nodeName && !(existing.get(o) as Pod)?.spec.nodeName,
  );
  let placed = new Map<Pod, Pod>();
  if (pending.length > 0) {
    const nodes = new Map<string, Node>();
    for (const n of (await listObjects(store, 'Node')).items) nodes.set(n.metadata.name, n);
    for (const o of objects) if (o.kind === 'Node') nodes.set(o.metadata.name, o);
    const pods = (await listObjects(store, 'Pod')).items;
    const scheduled = schedulePods(pending, [...nodes.values()], pods);
    placed = new Map(pending.map((p, i) => [p, scheduled[i]!]));
  }
  const out: KubeObject[] = [];
  for (const obj of objects) {
    if (obj.kind === 'Pod') out.push(placed.get(obj) ?? obj);
    else if (obj.kind === 'Service') {
      const old = existing.get(obj) as Service | undefined;
      out.push(await admitService(store, mergeForApply(old, obj), network));
    } else out.push(obj);
  }
  return out;
}

function describeName(obj: KubeObject): string {
  return obj.metadata.namespace
    ? `${obj.metadata.namespace}/${obj.metadata.name}`
    : obj.metadata.name;
}

async function apply(cmd: Command, file: string, namespace: string | undefined): Promise<void> {
  const { text, source } = readManifest(file);
  await withStore(cmd, async (store) => {
    const { applyObject, getClusterNetwork } = await import('../store/objects.js');
    const { parseManifests } = await import('../api/manifest.js');
    const network = await getClusterNetwork(store);
    let parsed;
    try {
      parsed = parseManifests(text, source, { network, namespace });
    } catch (err) {
      if (err instanceof UsageError) throw new UsageError(`${err.message}\nnothing was applied`);
      throw err;
    }
    for (const w of parsed.warnings) process.stderr.write(`warning: ${w}\n`);
    const objects = await prepareApply(store, parsed.objects, network);
    for (const obj of objects) {
      const { action } = await applyObject(store, obj);
      process.stdout.write(`${resourceName(obj)} ${action}\n`);
    }
  });
}

function kindArg(word: string): KindInfo {
  const info = kindByAlias(word);
  if (!info) {
    throw new UsageError(
      `${word}: unknown kind; use pods (po), services (svc), endpoints (ep), nodes (no), namespaces (ns), clusternetworks (cn), bgppeers or bgp`,
    );
  }
  return info;
}

interface GetOptions {
  namespace?: string;
  allNamespaces?: boolean;
  output?: string;
}

async function get(cmd: Command, kindWord: string, name: string | undefined, opts: GetOptions) {
  const output = opts.output;
  if (output !== undefined && !['json', 'yaml', 'wide'].includes(output)) {
    throw new UsageError(`-o ${output}: must be json, yaml or wide`);
  }
  if (name !== undefined && opts.allNamespaces) {
    throw new UsageError('-A: cannot be used with a NAME; give -n NAMESPACE instead');
  }
  if (['endpoints', 'endpoint', 'ep'].includes(kindWord.toLowerCase())) {
    return getEndpoints(cmd, name, opts);
  }
  if (kindWord.toLowerCase() === 'bgp') {
    if (name !== undefined) throw new UsageError('get bgp: takes no NAME (it lists every session)');
    if (output === 'yaml') throw new UsageError('-o yaml: get bgp prints json or wide');
    const { printClusterSessions } = await import('./bgp.js');
    return withStore(cmd, (store) => printClusterSessions(store, output));
  }
  const info = kindArg(kindWord);
  const ns = info.namespaced ? (opts.namespace ?? DEFAULT_NAMESPACE) : undefined;
  await withStore(cmd, async (store) => {
    const { getObject, listObjects } = await import('../store/objects.js');
    const { toYaml } = await import('../api/manifest.js');
    const { objectTable } = await import('../api/table.js');
    let objects: KubeObject[];
    if (name !== undefined) {
      const obj = await getObject(store, info.kind, ns, name);
      if (!obj)
        throw new OperationError(
          `${info.plural} "${name}" not found${ns ? ` in namespace ${ns}` : ''}`,
        );
      if (output === 'json') return print(JSON.stringify(obj, null, 2));
      if (output === 'yaml') return print(toYaml([obj]));
      objects = [obj];
    } else {
      objects = (await listObjects(store, info.kind, opts.allNamespaces ? undefined : ns)).items;
      if (output === 'json') return print(JSON.stringify(listOf(objects), null, 2));
      if (output === 'yaml') return print(toYaml([listOf(objects)]));
    }
    if (objects.length === 0) {
      const where = ns && !opts.allNamespaces ? ` in ${ns} namespace` : '';
      process.stderr.write(`No resources found${where}.\n`);
      return;
    }
    print(
      objectTable(info.kind, objects, {
        wide: output === 'wide',
        allNamespaces: info.namespaced && opts.allNamespaces,
      }),
    );
  });
}

/**
 * `podnet get endpoints`: derived from services and pods on the spot (endpoints are never
 * stored), shown as Kubernetes shows its Endpoints objects.
 */
async function getEndpoints(cmd: Command, name: string | undefined, opts: GetOptions) {
  const ns = opts.namespace ?? DEFAULT_NAMESPACE;
  const scope = opts.allNamespaces ? undefined : ns;
  await withStore(cmd, async (store) => {
    const { getObject, listObjects } = await import('../store/objects.js');
    const { serviceEndpoints, toEndpointsObject } = await import('../api/endpoints.js');
    const { toYaml } = await import('../api/manifest.js');
    const { endpointsTable } = await import('../api/table.js');
    let services: Service[];
    if (name !== undefined) {
      const svc = await getObject(store, 'Service', ns, name);
      if (!svc) throw new OperationError(`endpoints "${name}" not found in namespace ${ns}`);
      services = [svc];
    } else {
      services = (await listObjects(store, 'Service', scope)).items;
    }
    const pods = (await listObjects(store, 'Pod', scope)).items;
    const objects = services.map((s) => toEndpointsObject(serviceEndpoints(s, pods)));
    const doc = name !== undefined ? objects[0] : listOf(objects);
    if (opts.output === 'json') return print(JSON.stringify(doc, null, 2));
    if (opts.output === 'yaml') return print(toYaml([doc]));
    if (objects.length === 0) {
      process.stderr.write(`No resources found${scope ? ` in ${scope} namespace` : ''}.\n`);
      return;
    }
    print(endpointsTable(objects, { allNamespaces: opts.allNamespaces }));
  });
}

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

interface Target {
  info: KindInfo;
  namespace?: string;
  name: string;
}

/** The objects a `delete -f` manifest names (kind, namespace, name are all it needs). */
async function targetsFromFile(file: string, namespace: string | undefined): Promise<Target[]> {
  const { parseDocuments } = await import('../api/manifest.js');
  const { text, source } = readManifest(file);
  const docs = parseDocuments(text, source);
  return docs.map((doc, i) => {
    const o = doc as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
    const where = docs.length > 1 ? `${source} document ${i + 1}` : source;
    const info = typeof o?.kind === 'string' ? kindByName(o.kind) : undefined;
    if (!info) throw new UsageError(`${where}: kind: unknown kind ${JSON.stringify(o?.kind)}`);
    const name = o.metadata?.name;
    if (typeof name !== 'string') throw new UsageError(`${where}: metadata.name: is required`);
    const ns = typeof o.metadata?.namespace === 'string' ? o.metadata.namespace : namespace;
    return { info, name, namespace: info.namespaced ? (ns ?? DEFAULT_NAMESPACE) : undefined };
  });
}

async function del(
  cmd: Command,
  args: string[],
  opts: { filename?: string; namespace?: string },
): Promise<void> {
  let targets: Target[];
  if (opts.filename !== undefined) {
    if (args.length > 0)
      throw new UsageError('delete: give either -f FILE or KIND NAME..., not both');
    targets = await targetsFromFile(opts.filename, opts.namespace);
  } else {
    const [kindWord, ...names] = args;
    if (!kindWord || names.length === 0) {
      throw new UsageError('delete: give -f FILE, or KIND and at least one NAME');
    }
    const info = kindArg(kindWord);
    const namespace = info.namespaced ? (opts.namespace ?? DEFAULT_NAMESPACE) : undefined;
    targets = names.map((name) => ({ info, name, namespace }));
  }
  await withStore(cmd, async (store) => {
    const { deleteObject, getObject } = await import('../store/objects.js');
    const missing: string[] = [];
    for (const t of targets) {
      const old = await getObject(store, t.info.kind, t.namespace, t.name);
      if (await deleteObject(store, t.info.kind, t.namespace, t.name)) {
        if (old) await releaseHeld(store, old);
        process.stdout.write(`${t.info.kind.toLowerCase()} "${t.name}" deleted\n`);
      } else missing.push(`${t.info.plural} "${t.name}" not found`);
    }
    if (missing.length > 0) throw new OperationError(missing.join('\n'));
  });
}

export function registerObjects(program: Command): void {
  program
    .command('apply')
    .description('create or update the objects of a YAML or JSON manifest (all or nothing)')
    .requiredOption('-f, --filename <file>', 'manifest file, or - for stdin')
    .option('-n, --namespace <ns>', 'namespace for objects that name none')
    .action(async (opts: { filename: string; namespace?: string }, cmd: Command) => {
      await apply(cmd, opts.filename, opts.namespace);
    });
  program
    .command('get')
    .description(
      'list objects, or show one (kinds: pods, services, nodes, namespaces, clusternetworks, bgppeers; bgp: the BGP sessions)',
    )
    .argument(
      '<kind>',
      'pods (po), services (svc), endpoints (ep), nodes (no), namespaces (ns), clusternetworks (cn), bgppeers, bgp',
    )
    .argument('[name]', 'one object by name')
    .option('-n, --namespace <ns>', 'namespace', undefined)
    .option('-A, --all-namespaces', 'objects of every namespace')
    .option('-o, --output <format>', 'json, yaml or wide')
    .action(async (kind: string, name: string | undefined, opts: GetOptions, cmd: Command) => {
      await get(cmd, kind, name, opts);
    });
  program
    .command('delete')
    .description('delete objects by KIND NAME... or as named in a manifest (-f)')
    .argument('[args...]', 'KIND NAME...')
    .option('-f, --filename <file>', 'manifest naming the objects, or - for stdin')
    .option('-n, --namespace <ns>', 'namespace')
    .action(
      async (args: string[], opts: { filename?: string; namespace?: string }, cmd: Command) => {
        await del(cmd, args, opts);
      },
    );
}
