import type net from 'node:net';
import { normalizeAddress } from './flow.js';

/**
 * Caps the connections one source address may hold on a server the transport layer does not
 * own (an HTTPS status or admin server, a management API): the stream listeners have their own
 * cap (`maxConnectionsPerSource`), and an attacker must not find an uncapped port beside them.
 * A connection over the cap is closed at once, before any TLS or HTTP work is done for it.
 */
export function capConnectionsPerSource(server: net.Server, max: number, onRefused?: (address: string) => void): void {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`capConnectionsPerSource: max must be a whole number of at least 1, got ${String(max)}`);
  const open = new Map<string, number>();
  server.on('connection', (socket: net.Socket) => {
    const address = normalizeAddress(socket.remoteAddress);
    const count = (open.get(address) ?? 0) + 1;
    if (count > max) {
      socket.destroy();
      onRefused?.(address);
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

export interface GuessLimits {
  /** Wrong credentials from one source within `windowMs` that lock it out. */
  maxFailures: number;
  windowMs: number;
  /** How long a source stays locked out. */
  lockMs: number;
  /** Sources followed at once; beyond it the least recently failing is forgotten. */
  maxSources: number;
}

const DEFAULT_GUESS_LIMITS: GuessLimits = { maxFailures: 10, windowMs: 600_000, lockMs: 3_600_000, maxSources: 10_000 };

/**
 * Guess limiting for an administrative API (a bearer token, a shared secret): wrong
 * credentials are counted per source address over minutes, and a source that keeps guessing is
 * locked out for an hour — even its right credentials are refused meanwhile (429), so a
 * guesser learns nothing from the answers. A success forgives nothing.
 */
export class GuessLimiter {
  private readonly failures = new Map<string, { times: number[]; lockedUntil: number }>();
  private readonly limits: GuessLimits;

  constructor(private readonly now: () => number = Date.now, limits: Partial<GuessLimits> = {}) {
    this.limits = { ...DEFAULT_GUESS_LIMITS, ...limits };
  }

  /** Milliseconds the source is still locked out for; 0 when it may try. */
  lockedFor(address: string): number {
    const entry = this.failures.get(normalizeAddress(address));
    return entry ? Math.max(0, entry.lockedUntil - this.now()) : 0;
  }

  /** One wrong credential from `address`; true when this one locked it out. */
  fail(address: string): boolean {
    const key = normalizeAddress(address);
    const now = this.now();
    const entry = this.failures.get(key) ?? { times: [], lockedUntil: 0 };
    this.failures.delete(key);
    entry.times = entry.times.filter((t) => now - t < this.limits.windowMs);
    entry.times.push(now);
    let locked = false;
    if (entry.times.length >= this.limits.maxFailures && entry.lockedUntil <= now) {
      entry.lockedUntil = now + this.limits.lockMs;
      entry.times = [];
      locked = true;
    }
    this.failures.set(key, entry);
    while (this.failures.size > this.limits.maxSources) this.failures.delete(this.failures.keys().next().value!);
    return locked;
  }
}
