/**
 * The gateway's global request budget (Kamailio's pike has one per source; this is the one
 * across all of them): at most `maxPerSecond` requests a second from all sources together.
 * Once a second's budget is spent, a source that already sent more than its fair share that
 * second is dropped until the second ends, while a source sending little — a set registering
 * in the middle of a flood — still gets through. Nothing is blocked here; the per-source flood
 * limit does that.
 */
export class LoadShedder {
  private second = -1;
  private total = 0;
  private readonly perSource = new Map<string, number>();

  constructor(
    private readonly maxPerSecond: number,
    /** What one source may send in a second that is over budget; default 1 % of the budget, at least 10. */
    private readonly fairShare = Math.max(10, Math.floor(maxPerSecond / 100)),
    /** Sources followed within one second; more (a spoofed flood) and the unseen ones count as over their share. */
    private readonly maxSources = 100_000,
  ) {}

  /** Counts one request from `source`; false when it must be dropped. */
  admit(source: string, now: number): boolean {
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.total = 0;
      this.perSource.clear();
    }
    this.total++;
    const known = this.perSource.get(source);
    if (known === undefined && this.perSource.size >= this.maxSources) return this.total <= this.maxPerSecond;
    const count = (known ?? 0) + 1;
    this.perSource.set(source, count);
    return this.total <= this.maxPerSecond || count <= this.fairShare;
  }

  /** Whether this second's budget is spent (the status page shows it). */
  get overloaded(): boolean {
    return this.total > this.maxPerSecond;
  }
}
