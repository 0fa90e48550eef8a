/**
 * The devices a user authenticated from — (user, source address) pairs — remembered for a
 * while: a user locked out by a distributed guessing attack keeps working from these (the
 * MBG backs off per user and source, not per user alone). Memory is bounded: beyond
 * `maxEntries` the least recently seen pair goes.
 */
export class KnownDevices {
  private readonly seen = new Map<string, number>();
  /** The same, by source address alone: where some user authenticated lately. */
  private readonly sources = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  get size(): number {
    return this.seen.size + this.sources.size;
  }

  remember(user: string, source: string, now: number): void {
    if (this.ttlMs <= 0) return;
    const key = pairKey(user, source);
    this.seen.delete(key);
    this.seen.set(key, now);
    while (this.seen.size > this.maxEntries) this.seen.delete(this.seen.keys().next().value!);
    this.sources.delete(source);
    this.sources.set(source, now);
    while (this.sources.size > this.maxEntries) this.sources.delete(this.sources.keys().next().value!);
  }

  /** Whether some user authenticated from this address within the TTL. */
  knowsSource(source: string, now: number): boolean {
    const at = this.sources.get(source);
    return at !== undefined && now - at < this.ttlMs;
  }

  knows(user: string, source: string, now: number): boolean {
    const at = this.seen.get(pairKey(user, source));
    return at !== undefined && now - at < this.ttlMs;
  }

  /** Drops what was not seen within the TTL; the oldest come first, so each pass stops at the first live one. */
  prune(now: number): void {
    for (const table of [this.seen, this.sources]) {
      for (const [key, at] of table) {
        if (now - at < this.ttlMs) break;
        table.delete(key);
      }
    }
  }
}

function pairKey(user: string, source: string): string {
  return `${user}\u0000${source}`;
}
