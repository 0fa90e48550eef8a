import type { SipRequest } from '../message/index.js';
import type { Destination } from '../transport/flow.js';
import type { ClientTransaction } from './client-transaction.js';
import { TypedEmitter, type EventArgs } from './emitter.js';
import { TimerSet } from './timer-set.js';
import type { Clock, MessageSender, TimerValues } from './types.js';

/** The state names of RFC 3261 §17 and RFC 6026 (Accepted). */
export type TransactionState = 'calling' | 'trying' | 'proceeding' | 'accepted' | 'completed' | 'confirmed' | 'terminated';

/** Events every transaction emits. 'terminated' is always the last one. */
export interface TransactionEvents {
  state: [state: TransactionState];
  /** Timer B, F (client) or H (server) fired; a client TU reports this as 408. */
  timeout: [];
  'transport-error': [error: Error];
  terminated: [];
}

/** What the layer shares with its transactions. */
export interface TransactionContext {
  sender: MessageSender;
  clock: Clock;
  timerValues: TimerValues;
  /** Start a client transaction (how a client INVITE sends its CANCEL). */
  sendRequest(request: SipRequest, destination: Destination): ClientTransaction;
}

/**
 * The state, timers and life cycle every transaction shares. Subclasses hold the state machine;
 * this class guarantees that terminating stops every timer, tells the layer (which forgets the
 * transaction) and emits 'terminated' exactly once.
 */
export abstract class Transaction<E extends TransactionEvents & EventArgs<E>, TimerName extends string> extends TypedEmitter<E> {
  protected readonly timers: TimerSet<TimerName>;
  private current: TransactionState;

  protected constructor(
    protected readonly context: TransactionContext,
    initialState: TransactionState,
    private readonly onTerminated: () => void,
  ) {
    super();
    this.timers = new TimerSet(context.clock);
    this.current = initialState;
  }

  get state(): TransactionState {
    return this.current;
  }

  get isTerminated(): boolean {
    return this.current === 'terminated';
  }

  protected get t(): TimerValues {
    return this.context.timerValues;
  }

  protected setState(state: TransactionState): void {
    if (state === this.current || this.isTerminated) return;
    this.current = state;
    this.emitUnchecked('state', [state]);
  }

  protected terminate(): void {
    if (this.isTerminated) return;
    this.timers.stopAll();
    this.setState('terminated');
    // The layer forgets us before listeners run, so a listener sees consistent layer counts.
    this.onTerminated();
    this.emitUnchecked('terminated', []);
  }

  protected timeOut(): void {
    if (this.isTerminated) return;
    this.emitUnchecked('timeout', []);
    this.terminate();
  }

  /** A send failed (§17.1.4, §17.2.4): tell the TU and give up. Nothing is reported once terminated. */
  protected fail(error: unknown): void {
    if (this.isTerminated) return;
    this.emitUnchecked('transport-error', [toError(error)]);
    this.terminate();
  }
}

export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Call a sender, turning a synchronous throw into a rejected promise. */
export function attempt<T>(send: () => Promise<T>): Promise<T> {
  try {
    return send();
  } catch (error) {
    return Promise.reject(toError(error));
  }
}
