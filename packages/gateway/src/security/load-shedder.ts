/** Budgets are kept per tenth of a second: a second's budget spent in its first few milliseconds would come as one burst. */
const SLOT_MS = 100;
const SLOTS_PER_SECOND = 1000 / SLOT_MS;

/**
 * The gateway's global request budget (Kamailio's pike has one per source; this is the one
 * across all of them): at most `maxPerSecond` requests a second from all sources together,
 * kept per tenth of a second. Once a slot's share of the budget is spent, a source that already
 * sent more than its fair share in that slot is dropped until the slot ends, while a source
 * sending little — a set registering in the middle of a flood — still gets through. Nothing is
 * blocked here; the per-source flood limit does that.
 */
export class LoadShedder {
  private slot = -1;
  private total = 0;
  private readonly perSource = new Map<string, number>();
  private readonly slotBudget: number;
  private readonly slotShare: number;

  constructor(
    maxPerSecond: number,
    /** What one source may send in a second that is over budget; default 1 % of the budget, at least 10. */
    fairShare = Math.max(10, Math.floor(maxPerSecond / 100)),
    /** Sources followed within one slot; more (a spoofed flood) and the unseen ones count as over their share. */
    private readonly maxSources = 100_000,
  ) {
    this.slotBudget = Math.max(1, Math.round(maxPerSecond / SLOTS_PER_SECOND));
    this.slotShare = Math.max(2, Math.round(fairShare / SLOTS_PER_SECOND));
  }

  /** Counts one request from `source`; false when it must be dropped. */
  admit(source: string, now: number): boolean {
    const slot = Math.floor(now / SLOT_MS);
    if (slot !== this.slot) {
      this.slot = slot;
      this.total = 0;
      this.perSource.clear();
    }
    this.total++;
    const known = this.perSource.get(source);
    if (known === undefined && this.perSource.size >= this.maxSources) return this.total <= this.slotBudget;
    const count = (known ?? 0) + 1;
    this.perSource.set(source, count);
    return this.total <= this.slotBudget || count <= this.slotShare;
  }

  /** Whether the current slot's budget is spent (the status page shows it). */
  get overloaded(): boolean {
    return this.total > this.slotBudget;
  }
}
