/**
 * Per-key counters over a time window whose memory stays bounded even when every packet of a
 * flood carries a new (spoofed) source: quiet keys are pruned, and beyond `maxKeys` the least
 * recently active keys are evicted.
 */

/**
 * A Map kept in order of each entry's staleness deadline, so stale entries can be pruned from
 * the front without a full scan. Callers keep that order by calling `touch` whenever an entry's
 * deadline moves, and deadlines must grow with the time of the touch (deadline = touch + window).
 */
class RecencyMap<V> {
  private readonly entries = new Map<string, V>();

  constructor(
    private readonly maxKeys: number,
    private readonly isStale: (value: V, now: number) => boolean,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  /** Stores `value` as the most recently active entry, making room if the map is full. */
  touch(key: string, value: V, now: number): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxKeys) this.makeRoom(now);
    this.entries.set(key, value);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Removes stale entries; they are all at the front, so this stops at the first live one. */
  pruneStale(now: number): void {
    for (const [key, value] of this.entries) {
      if (!this.isStale(value, now)) break;
      this.entries.delete(key);
    }
  }

  private makeRoom(now: number): void {
    this.pruneStale(now);
    if (this.entries.size < this.maxKeys) return;
    // Evict a tenth at once so a flood of new keys pays for eviction once per many inserts.
    const target = Math.max(0, Math.floor(this.maxKeys * 0.9) - 1);
    for (const key of this.entries.keys()) {
      if (this.entries.size <= target) break;
      this.entries.delete(key);
    }
  }
}

interface FixedWindow {
  start: number;
  count: number;
}

/**
 * Counts events per key in fixed windows that start at a key's first event: cheap enough to run
 * on every request, at the price of letting a burst straddling two windows reach up to twice the
 * limit before it is caught.
 */
export class FixedWindowCounter {
  private readonly windows: RecencyMap<FixedWindow>;

  constructor(
    private readonly windowMs: number,
    maxKeys: number,
  ) {
    this.windows = new RecencyMap(maxKeys, (w, now) => now - w.start >= windowMs);
  }

  /** Keys currently tracked. */
  get size(): number {
    return this.windows.size;
  }

  /** Counts one event for `key` at `now`; returns the number counted in the key's current window. */
  add(key: string, now: number): number {
    const window = this.windows.get(key);
    if (window && now - window.start < this.windowMs) return ++window.count;
    this.windows.touch(key, { start: now, count: 1 }, now);
    return 1;
  }

  delete(key: string): void {
    this.windows.delete(key);
  }

  prune(now: number): void {
    this.windows.pruneStale(now);
  }
}

/**
 * Keeps the times of each key's most recent events (at most `maxEvents` of them) and counts
 * those less than `windowMs` old: an exact sliding window, for rare events such as failed
 * authentications where "N within any window" must hold whatever the window's alignment.
 */
export class SlidingEventLog {
  private readonly times: RecencyMap<number[]>;

  constructor(
    private readonly windowMs: number,
    private readonly maxEvents: number,
    maxKeys: number,
  ) {
    this.times = new RecencyMap(maxKeys, (t, now) => now - t[t.length - 1] >= windowMs);
  }

  /** Keys currently tracked. */
  get size(): number {
    return this.times.size;
  }

  /** Records one event for `key` at `now`; returns how many of its events are within the window. */
  add(key: string, now: number): number {
    const times = this.times.get(key) ?? [];
    let firstLive = 0;
    while (firstLive < times.length && now - times[firstLive] >= this.windowMs) firstLive++;
    if (firstLive > 0) times.splice(0, firstLive);
    times.push(now);
    if (times.length > this.maxEvents) times.splice(0, times.length - this.maxEvents);
    this.times.touch(key, times, now);
    return times.length;
  }

  delete(key: string): void {
    this.times.delete(key);
  }

  prune(now: number): void {
    this.times.pruneStale(now);
  }
}
