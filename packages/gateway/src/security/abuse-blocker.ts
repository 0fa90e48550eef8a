import { isIPv4 } from 'node:net';
import { formatCidr, parseAddress } from '@psi-lab/sip';
import type { GatewayConfig } from '../config/types.js';
import type { BlockView } from '../status/types.js';
import { FixedWindowCounter, SlidingEventLog } from './window-counters.js';

/** The limits of the automatic blocking, as in the `security` section of the configuration. */
export type AbusePolicy = Pick<GatewayConfig['security'], 'maxAuthFailures' | 'maxRequestsPerWindow' | 'windowSeconds' | 'blockSeconds'>;

export type BlockKind = BlockView['kind'];
export type BlockReason = BlockView['reason'];

export interface AbuseBlockerOptions {
  policy: AbusePolicy;
  /** Clock in epoch milliseconds; default Date.now. Tests pass a fake one. */
  now?: () => number;
  /** White-listed sources: never counted, never blocked automatically. */
  isExempt?: (address: string) => boolean;
  /** Called after each new block is recorded (to log it, or to close the source's connections). */
  onBlock?: (block: BlockView) => void;
  /** Most keys each counter table and each block table holds; default DEFAULT_MAX_TRACKED_KEYS. */
  maxTrackedKeys?: number;
}

/** Enough for a large site's sets; a flood with more distinct sources than this is spoofed. */
export const DEFAULT_MAX_TRACKED_KEYS = 50_000;

/** A User-Agent is kept to this length: attackers must not make each key cost kilobytes. */
const MAX_USER_AGENT_KEY = 256;

interface ActiveBlock {
  kind: BlockKind;
  value: string;
  reason: BlockReason;
  count: number;
  sinceMs: number;
  untilMs: number;
}

/**
 * The MBG's automatic blocking of attackers: a source address sending too many requests (a
 * flood), or failing authentication too often, is blocked for `blockSeconds`; so is a
 * User-Agent that fails authentication too often across any number of sources (a distributed
 * password-guessing tool). Blocks expire by themselves, checked against `now()`.
 *
 * Source addresses are compared in canonical form, so `::ffff:192.0.2.7` and `192.0.2.7` are
 * the same source whichever socket (or operator) names it.
 */
export class AbuseBlocker {
  private readonly policy: AbusePolicy;
  private readonly now: () => number;
  private readonly isExempt: (address: string) => boolean;
  private readonly onBlock?: (block: BlockView) => void;
  private readonly maxTrackedKeys: number;
  private readonly windowMs: number;
  private readonly blocks: Record<BlockKind, Map<string, ActiveBlock>> = { source: new Map(), 'user-agent': new Map() };
  private readonly requestsBySource: FixedWindowCounter;
  private readonly failuresBySource: SlidingEventLog;
  private readonly failuresByUserAgent: SlidingEventLog;
  private automaticBlocksSet = 0;
  private lastSweepMs: number;

  /** @throws RangeError naming the policy field that is not a positive number. */
  constructor(options: AbuseBlockerOptions) {
    const { policy } = options;
    for (const field of ['maxAuthFailures', 'maxRequestsPerWindow', 'windowSeconds', 'blockSeconds'] as const) {
      const value = policy[field];
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        throw new RangeError(`AbuseBlocker: policy.${field} must be a positive number, got ${String(value)}`);
      }
    }
    this.policy = { ...policy };
    this.now = options.now ?? Date.now;
    this.isExempt = options.isExempt ?? (() => false);
    this.onBlock = options.onBlock;
    this.maxTrackedKeys = Math.max(1, Math.floor(options.maxTrackedKeys ?? DEFAULT_MAX_TRACKED_KEYS));
    this.windowMs = policy.windowSeconds * 1000;
    this.requestsBySource = new FixedWindowCounter(this.windowMs, this.maxTrackedKeys);
    this.failuresBySource = new SlidingEventLog(this.windowMs, Math.ceil(policy.maxAuthFailures), this.maxTrackedKeys);
    this.failuresByUserAgent = new SlidingEventLog(this.windowMs, Math.ceil(policy.maxAuthFailures), this.maxTrackedKeys);
    this.lastSweepMs = this.now();
  }

  /** False while the source is blocked. */
  allowsSource(address: string): boolean {
    const now = this.maintain();
    return !this.activeBlock('source', canonicalSource(address), now);
  }

  /** False while the User-Agent is blocked; an absent or empty User-Agent is always allowed. */
  allowsUserAgent(userAgent: string | undefined): boolean {
    const key = canonicalUserAgent(userAgent);
    if (key === undefined) return true;
    const now = this.maintain();
    return !this.activeBlock('user-agent', key, now);
  }

  /**
   * Counts one request from `address` toward the flood limit. Returns false when the source is
   * blocked, including when this request is the one over `maxRequestsPerWindow`.
   */
  recordRequest(address: string): boolean {
    const now = this.maintain();
    const key = canonicalSource(address);
    if (this.activeBlock('source', key, now)) return false;
    if (this.isExempt(address)) return true;
    const count = this.requestsBySource.add(key, now);
    if (count <= this.policy.maxRequestsPerWindow) return true;
    this.impose('source', key, 'flood', count, this.policy.blockSeconds, now);
    return false;
  }

  /**
   * Counts a failed authentication against the source and, when there is one, its User-Agent;
   * either reaching `maxAuthFailures` within the window is blocked. Failures from exempt
   * sources count toward nothing: a white-listed office mistyping a password must not get the
   * User-Agent of every set of that model blocked.
   */
  recordAuthFailure(address: string, userAgent?: string): void {
    const now = this.maintain();
    if (this.isExempt(address)) return;
    const source = canonicalSource(address);
    if (!this.activeBlock('source', source, now)) {
      const failures = this.failuresBySource.add(source, now);
      if (failures >= this.policy.maxAuthFailures) this.impose('source', source, 'authentication-failures', failures, this.policy.blockSeconds, now);
    }
    const agent = canonicalUserAgent(userAgent);
    if (agent !== undefined && !this.activeBlock('user-agent', agent, now)) {
      const failures = this.failuresByUserAgent.add(agent, now);
      if (failures >= this.policy.maxAuthFailures) this.impose('user-agent', agent, 'authentication-failures', failures, this.policy.blockSeconds, now);
    }
  }

  /**
   * A successful authentication forgives nothing, on purpose: a tool guessing the passwords of
   * many extensions from one source, one of which it knows, would otherwise reset its own count
   * with every success. Kept so call sites can report both outcomes symmetrically.
   */
  recordAuthSuccess(_address: string): void {
    this.maintain();
  }

  /**
   * Blocks a source or User-Agent now, for `seconds` (default `blockSeconds`), replacing any
   * block it already has. With reason `manual` this is the operator's decision and applies even
   * to white-listed sources; with any other reason the caller is an automatic check (such as a
   * connection limit), so exempt sources are refused and the block counts in `blocksTotal`.
   * @returns the block set, or undefined when refused (exempt source, or empty User-Agent).
   * @throws RangeError when `seconds` is not a positive number.
   */
  block(kind: BlockKind, value: string, reason: BlockReason, seconds: number = this.policy.blockSeconds): BlockView | undefined {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
      throw new RangeError(`AbuseBlocker.block(${kind}, ${value}): seconds must be a positive number, got ${String(seconds)}`);
    }
    const now = this.maintain();
    const key = kind === 'source' ? canonicalSource(value) : canonicalUserAgent(value);
    if (key === undefined) return undefined;
    if (kind === 'source' && reason !== 'manual' && this.isExempt(value)) return undefined;
    return this.impose(kind, key, reason, 0, seconds, now);
  }

  /** Lifts a block and forgets the counts behind it; returns whether a block was active. */
  unblock(kind: BlockKind, value: string): boolean {
    const now = this.maintain();
    const key = kind === 'source' ? canonicalSource(value) : canonicalUserAgent(value);
    if (key === undefined) return false;
    const wasActive = this.activeBlock(kind, key, now) !== undefined;
    this.blocks[kind].delete(key);
    this.forgetCounts(kind, key);
    return wasActive;
  }

  /** The blocks in force now, oldest first, with ISO times. */
  list(): BlockView[] {
    const now = this.maintain();
    this.dropExpiredBlocks(now);
    return [...this.blocks.source.values(), ...this.blocks['user-agent'].values()]
      .sort((a, b) => a.sinceMs - b.sinceMs)
      .map(toView);
  }

  /** Sources and User-Agents blocked now. */
  get blocksActive(): number {
    this.dropExpiredBlocks(this.now());
    return this.blocks.source.size + this.blocks['user-agent'].size;
  }

  /** Automatic blocks (every reason but `manual`) set since this blocker was created. */
  get blocksTotal(): number {
    return this.automaticBlocksSet;
  }

  /** Keys held by the request and failure counters: bounded by pruning and `maxTrackedKeys`. */
  get trackedCounters(): number {
    return this.requestsBySource.size + this.failuresBySource.size + this.failuresByUserAgent.size;
  }

  /** Reads the clock and, once per window, prunes quiet counters and expired blocks. */
  private maintain(): number {
    const now = this.now();
    if (now - this.lastSweepMs >= this.windowMs || now < this.lastSweepMs) {
      this.lastSweepMs = now;
      this.requestsBySource.prune(now);
      this.failuresBySource.prune(now);
      this.failuresByUserAgent.prune(now);
      this.dropExpiredBlocks(now);
    }
    return now;
  }

  private activeBlock(kind: BlockKind, key: string, now: number): ActiveBlock | undefined {
    const block = this.blocks[kind].get(key);
    if (!block) return undefined;
    if (block.untilMs > now) return block;
    this.blocks[kind].delete(key);
    return undefined;
  }

  private impose(kind: BlockKind, key: string, reason: BlockReason, count: number, seconds: number, now: number): BlockView {
    const table = this.blocks[kind];
    table.delete(key);
    if (table.size >= this.maxTrackedKeys) this.makeRoomForBlock(table, now);
    const block: ActiveBlock = { kind, value: key, reason, count, sinceMs: now, untilMs: now + seconds * 1000 };
    table.set(key, block);
    this.forgetCounts(kind, key);
    if (reason !== 'manual') this.automaticBlocksSet++;
    const view = toView(block);
    this.onBlock?.(view);
    return view;
  }

  /**
   * When the block table is full, the oldest automatic block goes: the attackers blocked longest
   * ago are the nearest to expiry anyway. Manual blocks are never evicted by attack pressure.
   */
  private makeRoomForBlock(table: Map<string, ActiveBlock>, now: number): void {
    this.dropExpiredBlocks(now);
    for (const [key, block] of table) {
      if (table.size < this.maxTrackedKeys) return;
      if (block.reason !== 'manual') table.delete(key);
    }
  }

  private dropExpiredBlocks(now: number): void {
    for (const table of Object.values(this.blocks)) {
      for (const [key, block] of table) if (block.untilMs <= now) table.delete(key);
    }
  }

  private forgetCounts(kind: BlockKind, key: string): void {
    if (kind === 'source') {
      this.requestsBySource.delete(key);
      this.failuresBySource.delete(key);
    } else {
      this.failuresByUserAgent.delete(key);
    }
  }
}

function toView(block: ActiveBlock): BlockView {
  return {
    kind: block.kind,
    value: block.value,
    reason: block.reason,
    count: block.count,
    since: new Date(block.sinceMs).toISOString(),
    until: new Date(block.untilMs).toISOString(),
  };
}

/** One spelling per address: dotted quad for IPv4 (also when IPv4-mapped), RFC 5952 for IPv6. */
function canonicalSource(address: string): string {
  if (isIPv4(address)) return address;
  const ip = parseAddress(address);
  if (!ip) return address.trim().toLowerCase();
  const text = formatCidr({ family: ip.family, network: ip.value, prefix: ip.family === 4 ? 32 : 128 });
  return text.slice(0, text.lastIndexOf('/'));
}

function canonicalUserAgent(userAgent: string | undefined): string | undefined {
  const trimmed = userAgent?.trim();
  if (!trimmed) return undefined;
  return trimmed.length > MAX_USER_AGENT_KEY ? trimmed.slice(0, MAX_USER_AGENT_KEY) : trimmed;
}
