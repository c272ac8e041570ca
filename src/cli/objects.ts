// `podnet apply`, `podnet get`, `podnet delete`: cluster objects in and out, kubectl's way.
// Parsing, validation and tables are imported when a verb runs, so other verbs start small.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_NAMESPACE, KINDS, kindByAlias, kindByName, type KindInfo } from '../api/kinds.js';
import { listOf } from '../api/list.js';
import type { KubeObject } from '../api/types.js';
import { OperationError, UsageError } from '../util/errors.js';
import { resolveStoreUrl } from './context.js';
import type { Store } from '../store/store.js';

/**
 * `existing`: the verb reads (or deletes from) a cluster, so a store that does not exist is an
 * error, never created; only `apply` may start a store.
 */
async function withStore<T>(
  cmd: Command,
  which: 'existing' | 'create',
  fn: (store: Store) => Promise<T>,
): Promise<T> {
  const { openStore } = await import('../store/open.js');
  const store = await openStore(resolveStoreUrl(cmd), { create: which === 'create' });
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

async function apply(cmd: Command, file: string, namespace: string | undefined): Promise<void> {
  const { text, source } = readManifest(file);
  await withStore(cmd, 'create', async (store) => {
    const { getClusterNetwork } = await import('../store/objects.js');
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
    const { applyManifest } = await import('../registry/apply.js');
    let applied;
    try {
      applied = await applyManifest(store, parsed.objects, network);
    } catch (err) {
      if (err instanceof UsageError) throw new UsageError(`${err.message}\nnothing was applied`);
      throw err;
    }
    for (const { object, action, warnings } of applied) {
      for (const w of warnings ?? []) process.stderr.write(`Warning: ${w}\n`);
      process.stdout.write(`${resourceName(object)} ${action}\n`);
    }
  });
}

interface ApplyOptions {
  filename: string;
  namespace?: string;
  plan?: boolean;
  rollout?: boolean;
  batch: string;
  canary?: string;
  stepTimeout: string;
}

async function rollout(cmd: Command, opts: ApplyOptions): Promise<void> {
  if (opts.plan) throw new UsageError('--plan and --rollout: give one (--rollout plans first)');
  const { parseCount, requireRoot } = await import('./context.js');
  requireRoot('podnet apply --rollout (it checks each host from its kernel)');
  const batch = parseCount('--batch', 1, 1000)(opts.batch);
  const timeoutSeconds = parseCount('--step-timeout', 1, 3600)(opts.stepTimeout);
  const manifest = { ...readManifest(opts.filename), namespace: opts.namespace };
  const { rolloutApply } = await import('./rollout.js');
  await withStore(cmd, 'existing', (store) =>
    rolloutApply(cmd, store, manifest, opts.filename, {
      batch,
      canary: opts.canary,
      timeoutSeconds,
    }),
  );
}

/** Every kind with its shortest alias: `pods (po), services (svc), ...`. */
const KIND_WORDS = KINDS.map((k) => {
  const short = k.aliases.reduce((a, b) => (b.length < a.length ? b : a));
  return short === k.plural || short.length > 3 ? k.plural : `${k.plural} (${short})`;
}).join(', ');

function kindArg(word: string): KindInfo {
  const info = kindByAlias(word);
  if (!info) {
    throw new UsageError(`${word}: unknown kind; use ${KIND_WORDS} or bgp`);
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
  if (kindWord.toLowerCase() === 'bgp') {
    if (name !== undefined) throw new UsageError('get bgp: takes no NAME (it lists every session)');
    if (output === 'yaml') throw new UsageError('-o yaml: get bgp prints json or wide');
    const { printClusterSessions } = await import('./bgp.js');
    return withStore(cmd, 'existing', (store) => printClusterSessions(store, output));
  }
  const info = kindArg(kindWord);
  const ns = info.namespaced ? (opts.namespace ?? DEFAULT_NAMESPACE) : undefined;
  await withStore(cmd, 'existing', async (store) => {
    const { getObject, listObjects } = await import('../store/objects.js');
    // YAML comes with the manifest parser and its schemas: loaded only for -o yaml.
    const toYaml = async (docs: unknown[]) => (await import('../api/manifest.js')).toYaml(docs);
    let objects: KubeObject[];
    if (name !== undefined) {
      const obj = await getObject(store, info.kind, ns, name);
      if (!obj)
        throw new OperationError(
          `${info.plural} "${name}" not found${ns ? ` in namespace ${ns}` : ''}`,
        );
      if (output === 'json') return print(JSON.stringify(obj, null, 2));
      if (output === 'yaml') return print(await toYaml([obj]));
      objects = [obj];
    } else {
      objects = (await listObjects(store, info.kind, opts.allNamespaces ? undefined : ns)).items;
      if (output === 'json') return print(JSON.stringify(listOf(objects), null, 2));
      if (output === 'yaml') return print(await toYaml([listOf(objects)]));
    }
    const { objectTable } = await import('../api/table.js');
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

interface DeleteFlags {
  filename?: string;
  namespace?: string;
  force?: boolean;
  gracePeriod?: string;
}

async function del(cmd: Command, args: string[], opts: DeleteFlags): Promise<void> {
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
  const gracePeriodSeconds = gracePeriodOf(opts);
  await withStore(cmd, 'existing', async (store) => {
    const { deleteObject } = await import('../registry/delete.js');
    const missing: string[] = [];
    for (const t of targets) {
      const outcome = await deleteObject(store, t.info.kind, t.namespace, t.name, {
        force: opts.force,
        gracePeriodSeconds,
      });
      if (outcome === 'not-found') missing.push(`${t.info.plural} "${t.name}" not found`);
      else process.stdout.write(`${t.info.kind.toLowerCase()} "${t.name}" deleted\n`);
    }
    if (missing.length > 0) throw new OperationError(missing.join('\n'));
  });
}

/** `--grace-period`, kubectl's way: whole seconds; 0 only together with --force. */
function gracePeriodOf(opts: DeleteFlags): number | undefined {
  if (opts.gracePeriod === undefined) return opts.force ? 0 : undefined;
  const n = Number(opts.gracePeriod);
  if (!/^\d+$/.test(opts.gracePeriod) || !Number.isSafeInteger(n)) {
    throw new UsageError(`--grace-period ${opts.gracePeriod}: must be a whole number of seconds`);
  }
  if (n === 0 && !opts.force) {
    throw new UsageError(
      '--grace-period 0: removes pods without waiting for their node; add --force to mean it',
    );
  }
  return n;
}

async function repairStore(cmd: Command, settle: string): Promise<void> {
  const settleMs = Number(settle);
  if (!/^\d+$/.test(settle)) throw new UsageError(`--settle ${settle}: must be milliseconds`);
  await withStore(cmd, 'existing', async (store) => {
    const { repair } = await import('../registry/repair.js');
    const report = await repair(store, { settleMs });
    for (const f of report.freed) print(`freed ${f.key} (held for ${f.heldFor})`);
    for (const p of report.podsRemoved) print(`pod "${p}" removed (its node is gone)`);
    for (const n of report.namespacesRemoved) print(`namespace "${n}" removed (empty)`);
    const total = report.freed.length + report.podsRemoved.length + report.namespacesRemoved.length;
    if (total === 0) process.stderr.write('nothing to repair\n');
  });
}

export function registerObjects(program: Command): void {
  program
    .command('apply')
    .description('create or update the objects of a YAML or JSON manifest (all or nothing)')
    .requiredOption('-f, --filename <file>', 'manifest file, or - for stdin')
    .option('-n, --namespace <ns>', 'namespace for objects that name none')
    .option(
      '--plan',
      'apply nothing: print what would change (a ClusterNetwork: per host, from its kernel)',
    )
    .option(
      '--rollout',
      'a ClusterNetwork: one canary host first, checked, then the rest in batches; a failed check rolls back',
    )
    .option('--batch <hosts>', 'with --rollout: hosts moved together after the canary', '1')
    .option('--canary <node>', 'with --rollout: the host moved first (default: the first by name)')
    .option('--step-timeout <seconds>', "with --rollout: each step's wait for the agents", '60')
    .action(async (opts: ApplyOptions, cmd: Command) => {
      if (opts.rollout) return rollout(cmd, opts);
      if (!opts.plan) return apply(cmd, opts.filename, opts.namespace);
      const manifest = { ...readManifest(opts.filename), namespace: opts.namespace };
      const { planApply } = await import('./apply-plan.js');
      await withStore(cmd, 'existing', (store) => planApply(cmd, store, manifest, opts.filename));
    });
  program
    .command('get')
    .description('list objects, or show one (any stored kind; bgp: the BGP sessions)')
    .argument('<kind>', `${KIND_WORDS}, bgp`)
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
    .option(
      '--grace-period <seconds>',
      'seconds a pod gets to end: its preStop sleep is cut to this (default 30)',
    )
    .option(
      '--force',
      'with --grace-period 0 (the default then): remove pods at once, not waiting for their node',
    )
    .action(async (args: string[], opts: DeleteFlags, cmd: Command) => {
      await del(cmd, args, opts);
    });
  program
    .command('repair')
    .description(
      'free cluster IPs and node ports no Service holds; finish deletions nothing else will',
    )
    .option('--settle <ms>', 'how long a reservation must stay unheld before it is freed', '2000')
    .action(async (opts: { settle: string }, cmd: Command) => {
      await repairStore(cmd, opts.settle);
    });
}
