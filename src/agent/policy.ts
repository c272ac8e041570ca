// The policy controller: from the shared Pods, Namespaces and NetworkPolicies it keeps this
// node's policy datapath in step, one transaction per sync, with bursts of changes batched into
// one sync. The CNI server asks it to isolate a new pod before ADD returns, so that a pod a
// policy selects never sends or receives a packet its policies do not allow. The datapath
// follows the node's proxy mode, live: an nftables table, or ipsets and `PODNET-NP-` chains.
import { Counter, Histogram } from 'prom-client';
import { effectiveNetwork } from '../api/node-settings.js';
import type { ClusterNetwork, Node, Pod, ProxyMode } from '../api/types.js';
import type { PodRef } from '../cni/handler.js';
import { applySetsAndRules } from '../kernel/ipset-rules.js';
import { ipsetKernel } from '../kernel/ipset.js';
import { iptablesKernel, iptablesSave } from '../kernel/iptables.js';
import { subscribeNflog, type LoggedPacket, type NflogSubscription } from '../kernel/nflog.js';
import { nftKernel } from '../kernel/nft.js';
import type {
  PolicyApplyOutcome,
  PolicyDatapath,
  PolicyInputs,
  PolicyLogOptions,
} from '../policy/datapath.js';
import {
  DeniedLog,
  formatDenied,
  protocolName,
  type DeniedConnection,
} from '../policy/denied-log.js';
import { iptablesPolicyDatapath, type PolicyIptablesKernel } from '../policy/iptables-datapath.js';
import { nftablesPolicyDatapath } from '../policy/nftables-datapath.js';
import { getClusterNetwork, getObject } from '../store/objects.js';
import { errorMessage, OperationError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { AgentContext, Controller } from './controller.js';
import { OTHER_MODE, parseProxyMode } from './proxy.js';

const NAME = 'policy';

/**
 * On the ClusterNetwork `default`, `"true"` writes each denied connection to the agent's log and
 * to DENIED_PATH.
 */
export const ANNOTATION_POLICY_LOG = 'podnet.io/policy-log';
/** The agent's path for the recent denied connections (JSON), read by `podnet logs policy`. */
export const DENIED_PATH = '/policy/denied';
/** The netlink log group isolation and admin Deny chains send what they drop to (rate-limited: a flood costs nothing). */
const LOG: PolicyLogOptions = { group: 18, perSecond: 20 };

/** Changes closer together than this are programmed in one sync. */
const BATCH_MS = 50;
/**
 * A change is checked against the kernel within this long, changes closer together by one
 * check: not at once, since reading the kernel starts a program while a runtime may be
 * starting the next pod.
 */
const CHECK_WITHIN_MS = 1000;
/** With no change at all, the kernel is checked this often (what repairs a hand change). */
const RECHECK_MS = 30_000;
/** A failed sync is tried again after this long, whether or not anything changes. */
const RETRY_MS = 2000;

export interface PolicyController extends Controller {
  /**
   * Programs the datapath with `pod` at `ip` included and resolves once it is enforced; rejects
   * when that failed (the pod must then not start unisolated).
   */
  isolateNewPod(pod: PodRef, ip: string): Promise<void>;
  /** The pod's ADD failed: `ip` is not the pod's after all, and leaves its policies. */
  forgetNewPod(pod: PodRef, ip: string): void;
}

/**
 * Runs `work` at most once at a time, batching the requests that arrive while one waits; a
 * request that cannot wait starts the waiting one at once.
 */
class Batcher {
  private queued: { done: Promise<void>; start: () => void; timer: NodeJS.Timeout } | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly work: () => Promise<void>,
    private readonly delayMs: number,
  ) {}

  request(now = false): Promise<void> {
    if (!this.queued) {
      let start!: () => void;
      const started = new Promise<void>((resolve) => (start = resolve));
      const timer = setTimeout(start, this.delayMs);
      const done = started.then(async () => {
        await this.running;
        // Requests from here on need a sync of their own: this one has read its inputs.
        this.queued = undefined;
        this.running = this.work();
        await this.running;
      });
      this.queued = { done, start, timer };
    }
    if (now) {
      clearTimeout(this.queued.timer);
      this.queued.start();
    }
    return this.queued.done;
  }

  stop(): Promise<void> {
    if (this.queued) clearTimeout(this.queued.timer);
    return this.running;
  }
}

export interface PolicyControllerOptions {
  /** Hears each denied connection once (the flow log shows them). */
  onDenied?: (c: DeniedConnection) => void;
  /** The datapath of a proxy mode; by default the kernel's. */
  datapath?: (mode: ProxyMode, log: () => PolicyLogOptions) => PolicyDatapath;
  /** Reads the log group the datapath sends denied packets to; by default the kernel's. */
  nflog?: typeof subscribeNflog;
}

export function policyController(options: PolicyControllerOptions = {}): PolicyController {
  let batcher: Batcher | undefined;
  let retry: NodeJS.Timeout | undefined;
  let checkTimer: NodeJS.Timeout | undefined;
  let recheck: NodeJS.Timeout | undefined;
  let stopped = false;
  let lastError: string | undefined;
  /** The next sync reads the kernel's marker rather than trusting what was programmed. */
  let verifyNext = true;
  /** A new pod's ADD waits for the next sync, which then trusts what was programmed. */
  let addWaiting = false;
  /** Pods whose address CNI just gave, until the informer has them with it. */
  const newPods = new Map<string, Pod>();
  let ctx: AgentContext | undefined;
  let log: Logger | undefined;
  let stopLogging = (): void => {};

  return {
    name: NAME,
    async start(context: AgentContext): Promise<void> {
      ctx = context;
      const cluster = await getClusterNetwork(context.store);
      const self = await getObject(context.store, 'Node', undefined, context.options.nodeName);
      const override = context.options.overrides.proxy;
      // As the proxy's: a host's own settings from a staged rollout win over the cluster's.
      const modeOf = (spec: ClusterNetwork['spec'] | undefined, node: Node | undefined) =>
        override
          ? parseProxyMode(override, '--proxy')
          : parseProxyMode(effectiveNetwork(spec, node).proxyMode, 'ClusterNetwork spec.proxyMode');
      const datapathOf = (mode: ProxyMode): PolicyDatapath =>
        (options.datapath ?? kernelDatapath)(mode, () => LOG);
      let datapath = datapathOf(modeOf(cluster, self));
      /** The mode the node's settings ask for; a sync moves the datapath there. */
      let wanted = datapath.mode as ProxyMode;
      /**
       * A datapath whose rules are still to be taken out: the other mode's at start (this host
       * may have run it before a restart), the old mode's after a switch.
       */
      let leftover: PolicyDatapath | undefined = datapathOf(OTHER_MODE[wanted]);
      log = context.log.child({ controller: NAME });
      const logging = deniedLogging(context, log, options.onDenied, options.nflog);
      logging.datapath = datapath;
      stopLogging = () => logging.stop();
      const metrics = policyMetrics(context, () => datapath);
      const pods = context.informers.informer('Pod');
      const namespaces = context.informers.informer('Namespace');
      const policies = context.informers.informer('NetworkPolicy');
      const adminPolicies = context.informers.informer('AdminNetworkPolicy');
      const baselinePolicies = context.informers.informer('BaselineAdminNetworkPolicy');
      const nodeName = context.options.nodeName;

      const inputs = (): PolicyInputs => {
        const all = new Map(pods.cache);
        for (const [key, pod] of newPods) {
          if (all.get(key)?.status?.podIP === pod.status?.podIP) newPods.delete(key);
          else all.set(key, pod);
        }
        const every = [...all.values()];
        return {
          policies: [...policies.cache.values()],
          adminPolicies: [...adminPolicies.cache.values()],
          baselinePolicies: [...baselinePolicies.cache.values()],
          namespaces: [...namespaces.cache.values()],
          pods: every,
          localPods: every.filter((p) => p.spec.nodeName === nodeName),
        };
      };
      const sync = async (): Promise<void> => {
        clearTimeout(retry);
        // Reading the marker starts a program: an ADD does not wait for that. A verification
        // asked for meanwhile gets the next sync.
        const trust = !verifyNext || addWaiting;
        if (!trust) verifyNext = false;
        else if (verifyNext) void batcher?.request();
        addWaiting = false;
        const end = metrics.duration.startTimer();
        try {
          const outcome =
            wanted === datapath.mode ? await datapath.apply(inputs(), trust) : await switchMode();
          end({ change: outcome.change });
          metrics.syncs.inc({ result: 'ok' });
          if (outcome.change !== 'none') {
            log!.info({ ...outcome, mode: datapath.mode }, 'policy datapath synced');
          }
          if (leftover) await removeLeftover(leftover);
          lastError = undefined;
          context.health.setError(NAME, undefined);
          context.health.setReady(NAME, true);
        } catch (err) {
          metrics.syncs.inc({ result: 'error' });
          lastError = `${datapath.mode} policy sync failed: ${errorMessage(err)}`;
          log!.error({ err: errorMessage(err) }, 'policy sync failed; the kernel kept what it had');
          context.health.setError(NAME, lastError);
          verifyNext = true;
          if (!stopped) retry = setTimeout(() => void batcher?.request(), RETRY_MS);
        }
      };
      /**
       * Make before break: the wanted mode's datapath enforces the policies before the old
       * one's rules go (right after, in the same sync), so no packet meets neither; meanwhile a
       * packet meets both, which agree. If it fails, the old datapath stays and enforces.
       */
      const switchMode = async (): Promise<PolicyApplyOutcome> => {
        const next = datapathOf(wanted);
        log!.info({ from: datapath.mode, to: wanted }, 'moving the policy datapath');
        const outcome = await next.apply(inputs(), false);
        leftover = datapath;
        datapath = next;
        logging.datapath = next;
        return outcome;
      };
      /** Tried once, as the proxy takes out the other mode's rules: a failure is only logged. */
      const removeLeftover = async (old: PolicyDatapath): Promise<void> => {
        leftover = undefined;
        await old
          .remove()
          .catch((err: unknown) =>
            log!.warn(
              { err: errorMessage(err) },
              `could not take out the ${old.mode} policy rules`,
            ),
          );
      };
      const b = new Batcher(sync, BATCH_MS);
      batcher = b;
      // A change counts as processed once the datapath enforces it. Its sync trusts what was
      // programmed; the kernel is read soon after, beside the syncs rather than before them,
      // and only a kernel that differs (a table changed behind the agent's back) costs a sync
      // that reads it and repairs.
      const checkKernel = async (): Promise<void> => {
        checkTimer = undefined;
        const found = await datapath.check().catch(() => 'differs' as const);
        metrics.checks.inc({ result: found });
        if (stopped) return;
        if (found === 'unsettled') checkSoon();
        if (found !== 'differs') return;
        log!.warn('the policy datapath differs from what was programmed; programming it again');
        verifyNext = true;
        void b.request();
      };
      const checkSoon = (): void => {
        checkTimer ??= setTimeout(() => void checkKernel(), CHECK_WITHIN_MS);
      };
      const changed = (): Promise<void> => {
        checkSoon();
        return b.request();
      };
      pods.addHandler((c) => {
        if (c.type === 'deleted') newPods.delete(c.name);
        return changed();
      });
      namespaces.addHandler(changed);
      policies.addHandler(changed);
      adminPolicies.addHandler(changed);
      baselinePolicies.addHandler(changed);
      const networks = context.informers.informer('ClusterNetwork');
      const nodes = context.informers.informer('Node');
      /** A change of the mode is processed (and the Node's rollout step acknowledged) once moved. */
      const follow = (mode: ProxyMode): Promise<void> | undefined => {
        if (mode === wanted) return undefined;
        wanted = mode;
        return b.request(true);
      };
      networks.addHandler(async (c) => {
        if (c.object.metadata.name !== 'default') return;
        logging.set(c.type !== 'deleted' && wantsLog(c.object));
        if (c.type !== 'deleted') {
          await follow(modeOf(c.object.spec, nodes.cache.get(context.options.nodeName)));
        }
      });
      nodes.addHandler((c) =>
        c.name === context.options.nodeName && c.type !== 'deleted'
          ? follow(modeOf(networks.cache.get('default')?.spec, c.object))
          : undefined,
      );
      await Promise.all([
        pods.synced,
        namespaces.synced,
        policies.synced,
        adminPolicies.synced,
        baselinePolicies.synced,
        networks.synced,
        nodes.synced,
      ]);
      const network = [...networks.cache.values()].find((n) => n.metadata.name === 'default');
      logging.set(network !== undefined && wantsLog(network));
      logging.start();
      await b.request(true);
      recheck = setInterval(checkSoon, RECHECK_MS);
    },

    async isolateNewPod(ref: PodRef, ip: string): Promise<void> {
      if (!batcher || !ctx) return;
      const key = `${ref.namespace}/${ref.name}`;
      const known =
        ctx.informers.informer('Pod').cache.get(key) ??
        (await getObject(ctx.store, 'Pod', ref.namespace, ref.name));
      if (!known) throw new OperationError(`pod ${key} is not in the store`);
      newPods.set(key, {
        ...known,
        spec: { ...known.spec, nodeName: known.spec.nodeName ?? ctx.options.nodeName },
        status: { ...known.status, podIP: ip, podIPs: [{ ip }] },
      });
      addWaiting = true;
      await batcher.request(true);
      if (lastError) throw new OperationError(lastError);
    },

    forgetNewPod(ref: PodRef, ip: string): void {
      const key = `${ref.namespace}/${ref.name}`;
      if (newPods.get(key)?.status?.podIP !== ip) return;
      newPods.delete(key);
      void batcher?.request();
    },

    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(retry);
      clearTimeout(checkTimer);
      clearInterval(recheck);
      stopLogging();
      await batcher?.stop();
    },
  };
}

const wantsLog = (cluster: ClusterNetwork): boolean =>
  cluster.metadata.annotations?.[ANNOTATION_POLICY_LOG] === 'true';

/**
 * The log of denied connections: the datapath logs before it drops, and the agent reads the log
 * group, names the pods and policies and hands each connection to `onDenied`; when the
 * annotation asks for it, it also writes each to its own log and keeps the recent ones for
 * DENIED_PATH.
 */
function deniedLogging(
  ctx: AgentContext,
  log: Logger,
  onDenied: ((c: DeniedConnection) => void) | undefined,
  nflog = subscribeNflog,
) {
  // Every denied connection once, for the flow log; those while the annotation is on, for
  // DENIED_PATH.
  const seen = new DeniedLog();
  const recorded = new DeniedLog();
  let reader: NflogSubscription | undefined;
  const podsByIP = (): Map<string, string> => {
    const out = new Map<string, string>();
    for (const pod of ctx.informers.informer('Pod').cache.values())
      // podIP alone where podIPs is absent (the agent's cache leaves out a podIPs that repeats it).
      for (const ip of pod.status?.podIPs?.map((p) => p.ip) ?? [pod.status?.podIP])
        if (ip) out.set(ip, `${pod.metadata.namespace}/${pod.metadata.name}`);
    return out;
  };
  const onPacket = (packet: LoggedPacket): void => {
    const isolation = state.datapath?.isolationOf(packet.prefix);
    if (!isolation) return;
    const pods = podsByIP();
    const connection: DeniedConnection = {
      time: new Date().toISOString(),
      ...isolation,
      protocol: protocolName(packet.protocol),
      source: { ip: packet.source, port: packet.sourcePort, pod: pods.get(packet.source) },
      destination: {
        ip: packet.destination,
        port: packet.destinationPort,
        pod: pods.get(packet.destination),
      },
    };
    if (!seen.add(connection)) return;
    onDenied?.(connection);
    if (!state.on) return;
    recorded.add(connection);
    log.info({ denied: connection }, formatDenied(connection));
  };
  ctx.http.add(DENIED_PATH, () => recorded.recent());
  const state = {
    on: false,
    datapath: undefined as PolicyDatapath | undefined,
    /** Turns writing each denied connection to the agent's log on or off. */
    set(on: boolean): void {
      if (on === state.on) return;
      state.on = on;
      log.info({ on }, 'log of denied connections');
    },
    start(): void {
      reader ??= nflog(LOG.group, onPacket, (err) =>
        log.error({ err }, 'the log of denied connections stopped'),
      );
    },
    stop(): void {
      reader?.stop();
    },
  };
  return state;
}

function kernelDatapath(mode: ProxyMode, log: () => PolicyLogOptions): PolicyDatapath {
  return mode === 'nftables'
    ? nftablesPolicyDatapath(nftKernel(), log)
    : iptablesPolicyDatapath(policyIptablesKernel(), log);
}

/** The host's ipset and iptables, as the iptables datapath uses them. */
function policyIptablesKernel(): PolicyIptablesKernel {
  const iptables = iptablesKernel();
  return {
    apply: (wanted) => applySetsAndRules({ ipset: ipsetKernel(), iptables }, wanted),
    listChain: (chain) => iptables.listChain('filter', chain),
    saveCounters: () => iptablesSave('filter', { counters: true }),
  };
}

function policyMetrics(
  ctx: AgentContext,
  datapath: () => PolicyDatapath,
): {
  syncs: Counter<'result'>;
  checks: Counter<'result'>;
  duration: Histogram<'change'>;
} {
  new Counter({
    name: 'podnet_policy_drops_total',
    help: 'Packets dropped by policy on this node, by the NetworkPolicies isolating the pod (or the admin Deny rule, `anp/NAME rule RULE`) and direction (restarts from zero when the policy table is replaced)',
    labelNames: ['policy', 'direction'],
    registers: [ctx.metrics],
    async collect() {
      this.reset();
      try {
        for (const drop of await datapath().drops())
          this.inc(
            { policy: drop.policies.join(','), direction: drop.direction.toLowerCase() },
            drop.packets,
          );
      } catch (err) {
        ctx.log.warn({ controller: NAME, err: errorMessage(err) }, 'could not read policy drops');
      }
    },
  });
  return {
    syncs: new Counter({
      name: 'podnet_policy_syncs_total',
      help: 'Syncs of the policy datapath, by result',
      labelNames: ['result'],
      registers: [ctx.metrics],
    }),
    checks: new Counter({
      name: 'podnet_policy_kernel_checks_total',
      help: 'Reads of the policy datapath beside the syncs, by what they found (holds, differs, unsettled: a sync ran meanwhile)',
      labelNames: ['result'],
      registers: [ctx.metrics],
    }),
    duration: new Histogram({
      name: 'podnet_policy_sync_duration_seconds',
      help: 'Time a policy sync took, by what it changed (none, elements, table)',
      labelNames: ['change'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [ctx.metrics],
    }),
  };
}
