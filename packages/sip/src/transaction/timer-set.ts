import type { Clock, TimerHandle } from './types.js';

/**
 * The named timers of one transaction (A, B, E...), so that restarting one cancels its previous
 * run and terminating the transaction cancels them all: no callback outlives its transaction.
 */
export class TimerSet<Name extends string> {
  private readonly handles = new Map<Name, TimerHandle>();

  constructor(private readonly clock: Clock) {}

  /**
   * (Re)start a timer. A duration of 0 fires at once, synchronously: RFC 3261 sets timers I, J,
   * K and D to zero on reliable transports, meaning "leave the state now".
   */
  start(name: Name, ms: number, fire: () => void): void {
    this.stop(name);
    if (ms <= 0) {
      fire();
      return;
    }
    const handle = this.clock.setTimeout(() => {
      this.handles.delete(name);
      fire();
    }, ms);
    this.handles.set(name, handle);
  }

  stop(...names: Name[]): void {
    for (const name of names) {
      const handle = this.handles.get(name);
      if (handle === undefined) continue;
      this.clock.clearTimeout(handle);
      this.handles.delete(name);
    }
  }

  stopAll(): void {
    this.stop(...this.handles.keys());
  }

  isRunning(name: Name): boolean {
    return this.handles.has(name);
  }

  get size(): number {
    return this.handles.size;
  }
}
