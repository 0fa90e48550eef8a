/** SIP security defaults, as documented in the README. */
export interface BlockPolicy {
  /** Failed authentications from one address within `failureWindowMs` that trigger a block. */
  maxFailures: number;
  failureWindowMs: number;
  /** Requests from one address within `requestWindowMs` that count as a flood. */
  maxRequests: number;
  requestWindowMs: number;
  /** How long a first block lasts; each repeat offence within a day doubles it, up to `maxBlockMs`. */
  blockMs: number;
  maxBlockMs: number;
}

export const DEFAULT_BLOCK_POLICY: BlockPolicy = {
  maxFailures: 10,
  failureWindowMs: 10 * 60_000,
  maxRequests: 2000,
  requestWindowMs: 10_000,
  blockMs: 3600_000,
  maxBlockMs: 24 * 3600_000,
};

/** Offences are remembered this long: a source blocked again within it stays away longer. */
const OFFENCE_MEMORY_MS = 24 * 3600_000;
const MAX_TRACKED = 100_000;

export interface Block {
  address: string;
  reason: 'authentication failures' | 'request flood';
  /** Epoch milliseconds. */
  until: number;
}

interface Counter {
  windowStart: number;
  count: number;
}

/**
 * The MiVoice 5000's automatic blocking: a source address with too many failed
 * authentications, or too many requests, in a window is blocked for a while. Addresses on the
 * Allow-List are never blocked — the gateway's must be there, or the pbx blocks its own
 * gateway under load.
 */
export class SourceBlocker {
  private readonly blocks = new Map<string, Block>();
  private readonly failures = new Map<string, Counter>();
  private readonly requests = new Map<string, Counter>();
  /** Per source: how many times it was blocked, and when last. */
  private readonly offences = new Map<string, { count: number; at: number }>();

  constructor(
    private readonly policy: BlockPolicy,
    private readonly isAllowListed: (address: string) => boolean,
    private readonly now: () => number = Date.now,
    private readonly onBlock?: (block: Block) => void,
  ) {}

  /** Whether this address may be served now. */
  allows(address: string): boolean {
    const block = this.blocks.get(address);
    if (!block) return true;
    if (block.until > this.now()) return false;
    this.blocks.delete(address);
    return true;
  }

  recordFailure(address: string): void {
    if (this.count(this.failures, address, this.policy.failureWindowMs) >= this.policy.maxFailures) {
      this.block(address, 'authentication failures');
    }
  }

  recordRequest(address: string): void {
    if (this.count(this.requests, address, this.policy.requestWindowMs) > this.policy.maxRequests) {
      this.block(address, 'request flood');
    }
  }

  list(): Block[] {
    const t = this.now();
    return [...this.blocks.values()].filter((b) => b.until > t);
  }

  lift(address: string): boolean {
    this.failures.delete(address);
    this.requests.delete(address);
    return this.blocks.delete(address);
  }

  private block(address: string, reason: Block['reason']): void {
    if (this.isAllowListed(address) || this.blocks.has(address)) return;
    const t = this.now();
    const before = this.offences.get(address);
    const count = before && t - before.at < OFFENCE_MEMORY_MS ? before.count + 1 : 1;
    this.offences.delete(address);
    this.offences.set(address, { count, at: t });
    if (this.offences.size > MAX_TRACKED) this.offences.delete(this.offences.keys().next().value!);
    const duration = Math.min(this.policy.blockMs * 2 ** Math.min(count - 1, 20), this.policy.maxBlockMs);
    const block = { address, reason, until: t + duration };
    this.blocks.set(address, block);
    this.failures.delete(address);
    this.requests.delete(address);
    this.onBlock?.(block);
  }

  /** A fixed-window counter; cheap enough to run on every request. */
  private count(counters: Map<string, Counter>, address: string, windowMs: number): number {
    const t = this.now();
    let c = counters.get(address);
    if (!c || t - c.windowStart >= windowMs) {
      if (counters.size > MAX_TRACKED) this.prune(counters, windowMs, t);
      c = { windowStart: t, count: 0 };
      counters.set(address, c);
    }
    return ++c.count;
  }

  private prune(counters: Map<string, Counter>, windowMs: number, t: number): void {
    for (const [address, c] of counters) if (t - c.windowStart >= windowMs) counters.delete(address);
    // Still full of live counters (a spoofed flood): the oldest tenth goes rather than grow without bound.
    if (counters.size > MAX_TRACKED) [...counters.keys()].slice(0, MAX_TRACKED / 10).forEach((k) => counters.delete(k));
  }
}
