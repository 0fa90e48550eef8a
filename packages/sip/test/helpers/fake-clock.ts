import type { Clock, TimerHandle } from '../../src/transaction/index.js';

interface ScheduledTimer {
  at: number;
  /** Creation order: timers due at the same instant fire in the order they were set. */
  order: number;
  fire: () => void;
}

/** A Clock whose time only moves when a test says so. */
export class FakeClock implements Clock {
  private current = 0;
  private nextId = 1;
  private readonly timers = new Map<number, ScheduledTimer>();

  now(): number {
    return this.current;
  }

  setTimeout(fire: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.current + Math.max(0, ms), order: id, fire });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }

  /**
   * Move time forward by `ms`, firing every timer that falls due on the way, in order, with
   * `now()` set to its due time (so timers set by a timer are honoured within the same advance).
   */
  advance(ms: number): void {
    const end = this.current + ms;
    for (let next = this.nextDue(end); next; next = this.nextDue(end)) {
      const [id, timer] = next;
      this.timers.delete(id);
      this.current = timer.at;
      timer.fire();
    }
    this.current = end;
  }

  /** Advance to an absolute instant. */
  advanceTo(instant: number): void {
    this.advance(instant - this.current);
  }

  pending(): number {
    return this.timers.size;
  }

  private nextDue(end: number): [number, ScheduledTimer] | undefined {
    let best: [number, ScheduledTimer] | undefined;
    for (const entry of this.timers) {
      const t = entry[1];
      if (t.at > end) continue;
      if (!best || t.at < best[1].at || (t.at === best[1].at && t.order < best[1].order)) best = entry;
    }
    return best;
  }
}
