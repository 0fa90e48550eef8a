/**
 * Remembers the highest nonce-count accepted per nonce, so a captured request cannot be replayed
 * (RFC 7616 §3.4.5 / §5.8). Memory is bounded: entries die with their nonce's TTL, and when the
 * table is full the least recently used one is dropped.
 *
 * Forgetting a nonce that is still fresh would re-open it to replay, so every eviction raises a
 * watermark: a fresh nonce issued at or before it that we no longer remember is refused as stale,
 * which costs an honest client one extra round trip and an attacker everything.
 */

interface NonceUse {
  lastNc: number;
  issuedAt: number;
}

export type NonceCountResult = 'accepted' | 'replay' | 'forgotten';

export class NonceCountTracker {
  private readonly uses = new Map<string, NonceUse>();
  private evictedUpTo = -Infinity;

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
  ) {
    if (!(maxEntries >= 1)) throw new RangeError('maxEntries must be at least 1');
  }

  get size(): number {
    return this.uses.size;
  }

  /**
   * Call only after the response has been verified: recording unverified counts would let
   * anyone who saw a nonce push its count to ffffffff and lock the real client out.
   */
  record(nonce: string, nc: number, issuedAt: number, nowMs: number): NonceCountResult {
    this.dropExpired(nowMs);
    const known = this.uses.get(nonce);
    if (known) {
      if (nc <= known.lastNc) return 'replay';
      // Re-insert so Map order stays least-recently-used first.
      this.uses.delete(nonce);
      this.uses.set(nonce, { lastNc: nc, issuedAt });
      return 'accepted';
    }
    if (issuedAt <= this.evictedUpTo) return 'forgotten';

    this.uses.set(nonce, { lastNc: nc, issuedAt });
    while (this.uses.size > this.maxEntries) this.evictOldest(nowMs);
    return 'accepted';
  }

  private isExpired(use: NonceUse, nowMs: number): boolean {
    return Math.abs(nowMs - use.issuedAt) > this.ttlMs;
  }

  // Only looks at the head: cheap, and the size cap bounds whatever expired entries lie behind it.
  private dropExpired(nowMs: number): void {
    for (const [nonce, use] of this.uses) {
      if (!this.isExpired(use, nowMs)) return;
      this.uses.delete(nonce);
    }
  }

  private evictOldest(nowMs: number): void {
    const oldest = this.uses.entries().next();
    if (oldest.done) return;
    const [nonce, use] = oldest.value;
    this.uses.delete(nonce);
    if (!this.isExpired(use, nowMs)) this.evictedUpTo = Math.max(this.evictedUpTo, use.issuedAt);
  }
}
