/** Event name → the arguments its listeners receive. */
export type EventArgs<E> = { [K in keyof E]: unknown[] };

type Listener<A extends unknown[]> = (...args: A) => void;

/** An object of optional listeners, one per event name, e.g. `{ final: (res) => … }`. */
export type EventHandlers<E extends EventArgs<E>> = { [K in keyof E]?: Listener<E[K]> };

/**
 * A minimal typed event emitter. Unlike node's EventEmitter it gives no event special meaning
 * (no throwing 'error'), so a transaction can never crash the process just by reporting.
 * Listeners run synchronously in registration order; an exception in one propagates.
 */
export class TypedEmitter<E extends EventArgs<E>> {
  private readonly listeners: { [K in keyof E]?: Array<Listener<E[K]>> } = {};

  on<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    (this.listeners[event] ??= []).push(listener);
    return this;
  }

  once<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const wrapper: Listener<E[K]> = (...args) => {
      this.off(event, wrapper);
      listener(...args);
    };
    return this.on(event, wrapper);
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const list = this.listeners[event];
    const i = list?.indexOf(listener) ?? -1;
    if (list && i >= 0) list.splice(i, 1);
    return this;
  }

  listenerCount(event: keyof E): number {
    return this.listeners[event]?.length ?? 0;
  }

  /** Attach every handler of a handlers object. */
  protected attach(handlers: EventHandlers<E> | undefined): void {
    if (!handlers) return;
    for (const event of Object.keys(handlers) as Array<keyof E>) {
      const handler = handlers[event];
      if (handler) this.on(event, handler);
    }
  }

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    // A copy, so a listener that removes itself (once) does not make the loop skip the next one.
    for (const listener of [...(this.listeners[event] ?? [])]) listener(...args);
  }

  /**
   * Emit from generic code that knows the event exists (keyof E) but cannot name its argument
   * type, e.g. a base class emitting 'state' for every subclass's event map.
   */
  protected emitUnchecked(event: keyof E, args: unknown[]): void {
    for (const listener of [...(this.listeners[event] ?? [])]) (listener as Listener<unknown[]>)(...args);
  }
}
