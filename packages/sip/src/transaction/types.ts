import type { SipMessage, SipResponse } from '../message/index.js';
import type { Destination, Flow } from '../transport/flow.js';

/**
 * What the transaction layer needs from below: a way to send. The transport layer implements it;
 * tests use a fake that records what was sent. A send may fail (connection refused, closed),
 * which a transaction reports as a transport error (RFC 3261 §17.1.4, §17.2.4).
 */
export interface MessageSender {
  send(message: SipMessage, destination: Destination): Promise<Flow>;
  /**
   * Send a response where the request it answers came from. Where exactly (same connection,
   * received/rport, §18.2.2 and RFC 3581) is the transport's decision, not the transaction's.
   */
  sendResponse(response: SipResponse, requestFlow: Flow): Promise<Flow | void>;
}

/** Time, injectable so the timers of RFC 3261 §17 can be tested with a fake clock. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export type TimerHandle = unknown;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** RFC 3261 Table 4 base values, in milliseconds. */
export interface TimerValues {
  T1: number;
  T2: number;
  T4: number;
}

export const DEFAULT_TIMERS: TimerValues = { T1: 500, T2: 4000, T4: 5000 };

/** Timer D is a fixed "at least 32 s" in RFC 3261, not a multiple of T1. */
export const TIMER_D_MS = 32_000;

/** How long a server INVITE transaction waits for the TU before sending 100 Trying itself (§17.2.1). */
export const TRYING_DELAY_MS = 200;
