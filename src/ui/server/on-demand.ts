// Work the map does only while someone looks at it: running doctor on every node and following
// every agent's flows cost a host's CPU (a `podnet` process per node per round, one following
// all agents), which an idle map should not spend. The first viewer starts the work; it stops
// a while after the last one leaves, so that a reload or a poll does not start it afresh.
export class OnDemand {
  private viewers = 0;
  private running: (() => void) | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  /** `start` begins the work and returns what ends it. */
  constructor(
    private readonly start: () => () => void,
    private readonly lingerMs: number,
  ) {}

  /** A viewer that stays (an event stream); the returned function says it left. */
  view(): () => void {
    this.viewers++;
    this.ensureRunning();
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.viewers--;
      this.idleLater();
    };
  }

  /** A look that ends at once (a JSON request): the work runs on for the linger time. */
  touch(): void {
    this.ensureRunning();
    this.idleLater();
  }

  /** Whether the work runs now. */
  get active(): boolean {
    return this.running !== undefined;
  }

  stop(): void {
    clearTimeout(this.idleTimer);
    this.running?.();
    this.running = undefined;
  }

  private ensureRunning(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.running ??= this.start();
  }

  private idleLater(): void {
    if (this.viewers > 0) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stop(), this.lingerMs);
  }
}
