/** SIP security defaults, as documented in the README. */
export interface BlockPolicy {
  /** Failed authentications from one address within `failureWindowMs` that trigger a block. */
  maxFailures: number;
  failureWindowMs: number;
  /** Requests from one address within `requestWindowMs` that count as a flood. */
  maxRequests: number;
  requestWindowMs: number;
  /** How long a block lasts. */
  blockMs: number;
}

export const DEFAULT_BLOCK_POLICY: BlockPolicy = {
  maxFailures: 10,
  failureWindowMs: 10 * 60_000,
  maxRequests: 2000,
  requestWindowMs: 10_000,
  blockMs: 10 * 60_000,
};

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
    const block = { address, reason, until: this.now() + this.policy.blockMs };
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
      if (counters.size > 100_000) this.prune(counters, windowMs, t);
      c = { windowStart: t, count: 0 };
      counters.set(address, c);
    }
    return ++c.count;
  }

  private prune(counters: Map<string, Counter>, windowMs: number, t: number): void {
    for (const [address, c] of counters) if (t - c.windowStart >= windowMs) counters.delete(address);
  }
}
