// The sync loop: takes the latest desired service ports, batches bursts of changes (at most
// one sync per `minIntervalMs`), sends the difference through a proxier, deletes conntrack
// entries of UDP endpoints that went away, and polls a canary so that a flushed table is
// noticed and rewritten in full. A sync the kernel rejects leaves the previous rules in force;
// the error is reported and the next attempt is a full sync.
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import type { ConntrackKernel } from './kernel.js';
import type { ProxyMetrics } from './metrics.js';
import type { ServicePortRule } from './model.js';
import type { Proxier, SyncOutcome } from './proxier.js';
import { staleFlows } from './stale-flows.js';

/** The service ports to program, or how to compute them from the current objects. */
export type DesiredRules = ServicePortRule[] | (() => ServicePortRule[]);

export interface SyncerOptions {
  log: Logger;
  /** Minimum time between the starts of two syncs (batches bursts). Default 100 ms. */
  minIntervalMs?: number;
  /** How often the canary is checked. Default 5 s. */
  checkIntervalMs?: number;
  metrics?: ProxyMetrics;
  /** Where the flows of UDP endpoints that went away are deleted. */
  conntrack: ConntrackKernel;
  /** After every attempt: undefined when it succeeded, else the error for people. */
  onSynced?: (error: string | undefined, outcome?: SyncOutcome) => void;
}

export class ProxySyncer {
  private desired: DesiredRules | undefined;
  /** What the last successful sync programmed (to find UDP endpoints that went away). */
  private programmed: ServicePortRule[] = [];
  private reasons = new Set<string>();
  private needFull = true;
  private dirty = false;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private canaryTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastStart = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  private readonly minIntervalMs: number;
  private readonly checkIntervalMs: number;

  constructor(
    private readonly proxier: Proxier,
    private readonly opts: SyncerOptions,
  ) {
    this.minIntervalMs = opts.minIntervalMs ?? 100;
    this.checkIntervalMs = opts.checkIntervalMs ?? 5000;
  }

  /**
   * The desired state changed (for `reason`); a sync follows within minIntervalMs. A function
   * is called at sync time, so a burst of changes computes the rules once.
   */
  update(rules: DesiredRules, reason: string): void {
    this.desired = rules;
    this.reasons.add(reason);
    this.schedule();
  }

  /** Starts polling the canary. */
  start(): void {
    this.opts.conntrack.prepare?.();
    const poll = (): void => {
      this.canaryTimer = setTimeout(() => {
        void this.checkCanary().finally(() => {
          if (!this.stopped) poll();
        });
      }, this.checkIntervalMs);
    };
    poll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.canaryTimer);
    clearTimeout(this.retryTimer);
    await this.running;
  }

  /** Resolves when no sync is queued or running (for tests and benchmarks). */
  idle(): Promise<void> {
    if (!this.timer && !this.running && !this.dirty) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Checks the canary now; a missing canary queues a full sync. Returns whether it was there. */
  async checkCanary(): Promise<boolean> {
    if (this.desired === undefined || this.needFull) return true;
    let intact: boolean;
    try {
      intact = await this.proxier.intact();
    } catch (err) {
      this.opts.log.warn({ err: errorMessage(err) }, 'could not check the proxy canary');
      return true;
    }
    if (!intact) {
      this.opts.log.warn(
        { mode: this.proxier.mode },
        'proxy rules were flushed; resyncing in full',
      );
      this.needFull = true;
      this.reasons.add('rules flushed');
      this.schedule();
    }
    return intact;
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    if (this.timer) return;
    const wait = Math.max(0, this.lastStart + this.minIntervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.syncOnce().finally(() => {
        this.running = undefined;
        if (this.dirty) {
          this.dirty = false;
          this.schedule();
        } else if (!this.timer) {
          for (const wake of this.idleWaiters.splice(0)) wake();
        }
      });
    }, wait);
  }

  private async syncOnce(): Promise<void> {
    if (!this.desired) return;
    const rules = typeof this.desired === 'function' ? this.desired() : this.desired;
    const full = this.needFull;
    const reasons = [...this.reasons];
    const { reason, trigger } = describeReasons(this.reasons);
    this.reasons.clear();
    this.lastStart = Date.now();
    const kind = full ? 'full' : 'partial';
    const mode = this.proxier.mode;
    const endTimer = this.opts.metrics?.duration.startTimer({ mode, kind });
    try {
      const outcome = await this.proxier.sync(rules, full);
      this.needFull = false;
      endTimer?.();
      const rulesMs = Date.now() - this.lastStart;
      const flows = staleFlows(this.programmed, rules);
      this.programmed = rules;
      if (flows.length) await this.opts.conntrack.deleteStaleFlows(flows);
      const m = this.opts.metrics;
      m?.lastSync.set(Date.now() / 1000);
      m?.objects.set({ kind: 'rules' }, outcome.rules);
      m?.objects.set({ kind: 'elements' }, outcome.elements);
      m?.syncs.inc({ reason: trigger, kind, result: 'ok' });
      this.opts.log.info(
        {
          mode,
          kind,
          reason,
          ms: Date.now() - this.lastStart,
          rulesMs,
          sent: outcome.sent,
          staleFlows: flows.length,
        },
        'proxy rules synced',
      );
      this.opts.onSynced?.(undefined, outcome);
    } catch (err) {
      // The kernel kept what it had; re-read it and rewrite everything on the next attempt.
      this.needFull = true;
      this.proxier.reset();
      for (const r of reasons) this.reasons.add(r);
      this.opts.metrics?.syncs.inc({ reason: trigger, kind, result: 'error' });
      const message = `${mode} sync failed: ${errorMessage(err)}`;
      this.opts.log.error({ mode, kind, reason, err: errorMessage(err) }, 'proxy sync failed');
      this.opts.onSynced?.(message);
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.schedule();
      }, this.checkIntervalMs);
    }
  }
}

/** Reasons named in a sync's log line; the rest are counted (a resync can follow 10,000). */
const REASONS_LOGGED = 10;

/**
 * A sync's reasons for its log line, and for its metric only their triggers (`service`,
 * `endpointslice`, `start`...): object names in a label would be a new series per change.
 */
export function describeReasons(reasons: ReadonlySet<string>): { reason: string; trigger: string } {
  if (reasons.size === 0) return { reason: 'resync', trigger: 'resync' };
  const sorted = [...reasons].sort();
  const more = sorted.length - REASONS_LOGGED;
  const reason = sorted.slice(0, REASONS_LOGGED).join(',') + (more > 0 ? ` and ${more} more` : '');
  const trigger = [...new Set(sorted.map((r) => r.split(' ')[0]!))].sort().join(',');
  return { reason, trigger };
}
