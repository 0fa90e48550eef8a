import { isIPv4 } from 'node:net';
import { formatCidr, parseAddress } from '@psi-lab/sip';
import type { GatewayConfig } from '../config/types.js';
import type { BlockView } from '../status/types.js';
import { KnownDevices } from './known-devices.js';
import { LoadShedder } from './load-shedder.js';
import { FixedWindowCounter, SlidingEventLog } from './window-counters.js';

/** The limits of the automatic blocking, as in the `security` section of the configuration. */
export type AbusePolicy = Pick<GatewayConfig['security'],
  | 'maxAuthFailures' | 'maxUserAuthFailures' | 'authFailureWindowSeconds' | 'knownDeviceDays'
  | 'maxRequestsPerWindow' | 'windowSeconds' | 'maxRequestsPerSecond' | 'blockSeconds' | 'maxBlockSeconds'>;

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

/** A user name is kept to this length as a key: an attacker must not make each key cost kilobytes. */
const MAX_USER_KEY = 128;
/** How many times `maxRequestsPerWindow` an address that sets authenticated from may send. */
const KNOWN_SOURCE_ALLOWANCE = 10;
/** What one source's failures count toward a user's lock, at most, per window: alone, it must not lock anyone out. */
const MAX_FAILURES_PER_SOURCE_FOR_A_USER = 3;
/** A source blocked again within this time is blocked twice as long (up to maxBlockSeconds). */
const REPEAT_MEMORY_MS = 86_400_000;

interface ActiveBlock {
  kind: BlockKind;
  value: string;
  reason: BlockReason;
  count: number;
  sinceMs: number;
  untilMs: number;
}

/**
 * The MBG's automatic blocking of attackers, counted over minutes and hours, not seconds:
 *  - a source sending too many requests (a flood) or failing authentication too often is
 *    blocked for `blockSeconds`, twice as long for each repeat within a day;
 *  - a user whose password is guessed at from many sources (a distributed crack:
 *    `maxUserAuthFailures` failures, at most 3 of them counted from any one source) is locked —
 *    but only for the sources it never authenticated from: its own devices keep working;
 *  - all sources together get `maxRequestsPerSecond`, the heaviest dropped first when it is spent.
 * No User-Agent is ever blocked for failures: anyone can send any User-Agent, and blocking one
 * would lock out every phone of that model. Blocks expire by themselves, checked against now().
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
  private readonly sweepMs: number;
  private readonly blocks: Record<BlockKind, Map<string, ActiveBlock>> = { source: new Map(), user: new Map() };
  private readonly requestsBySource: FixedWindowCounter;
  private readonly failuresBySource: SlidingEventLog;
  private readonly failuresByUser: SlidingEventLog;
  /** Failures per (user, source) within the window: each source's share of a user's count is capped. */
  private readonly failingPairs: FixedWindowCounter;
  private readonly offences = new Map<string, { count: number; atMs: number }>();
  private readonly devices: KnownDevices;
  private readonly shedder: LoadShedder;
  private automaticBlocksSet = 0;
  private lastSweepMs: number;

  /** @throws RangeError naming the policy field that is not a positive number. */
  constructor(options: AbuseBlockerOptions) {
    const { policy } = options;
    for (const field of ['maxAuthFailures', 'maxUserAuthFailures', 'authFailureWindowSeconds', 'maxRequestsPerWindow', 'windowSeconds', 'maxRequestsPerSecond', 'blockSeconds', 'maxBlockSeconds'] as const) {
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
    const floodMs = policy.windowSeconds * 1000;
    const failureMs = policy.authFailureWindowSeconds * 1000;
    this.sweepMs = Math.min(floodMs, 60_000);
    this.requestsBySource = new FixedWindowCounter(floodMs, this.maxTrackedKeys);
    this.failuresBySource = new SlidingEventLog(failureMs, Math.ceil(policy.maxAuthFailures), this.maxTrackedKeys);
    this.failuresByUser = new SlidingEventLog(failureMs, Math.ceil(policy.maxUserAuthFailures), this.maxTrackedKeys);
    this.failingPairs = new FixedWindowCounter(failureMs, this.maxTrackedKeys);
    this.devices = new KnownDevices((policy.knownDeviceDays ?? 30) * 86_400_000, this.maxTrackedKeys * 4);
    this.shedder = new LoadShedder(policy.maxRequestsPerSecond);
    this.lastSweepMs = this.now();
  }

  /** False while the source is blocked. */
  allowsSource(address: string): boolean {
    const now = this.maintain();
    return !this.activeBlock('source', canonicalSource(address), now);
  }

  /**
   * Counts one message from `address` toward the flood limit and the global budget. Returns
   * false when it must be dropped: the source is blocked (this message may be the one over
   * `maxRequestsPerWindow`), or the second's budget is spent and the source is among the heavy.
   * Exempt (white-listed) sources are neither counted nor dropped.
   */
  recordRequest(address: string): boolean {
    const now = this.maintain();
    const key = canonicalSource(address);
    if (this.activeBlock('source', key, now)) return false;
    if (this.isExempt(address)) return true;
    const count = this.requestsBySource.add(key, now);
    // An address sets authenticated from (a NAT'd office, a busy phone) gets ten times the room.
    const limit = this.devices.knowsSource(key, now) ? this.policy.maxRequestsPerWindow * KNOWN_SOURCE_ALLOWANCE : this.policy.maxRequestsPerWindow;
    if (count > limit) {
      this.blockSource(key, 'flood', count, now);
      return false;
    }
    return this.shedder.admit(key, now);
  }

  /**
   * Whether an authentication attempt for `user` from `address` may be checked at all: false
   * while the user is locked and this source is not one of its known devices.
   */
  allowsUserFrom(user: string, address: string): boolean {
    const now = this.maintain();
    const key = canonicalUser(user);
    if (!this.activeBlock('user', key, now)) return true;
    return this.devices.knows(key, canonicalSource(address), now) || this.isExempt(address);
  }

  /**
   * Counts a failed authentication (wrong password, unknown user) against the source and the
   * user it was for; either reaching its limit within `authFailureWindowSeconds` is blocked.
   * Failures from exempt sources count toward nothing.
   */
  recordAuthFailure(address: string, user?: string): void {
    const now = this.maintain();
    if (this.isExempt(address)) return;
    const source = canonicalSource(address);
    if (!this.activeBlock('source', source, now)) {
      const failures = this.failuresBySource.add(source, now);
      if (failures >= this.policy.maxAuthFailures) this.blockSource(source, 'authentication-failures', failures, now);
    }
    if (user === undefined || user === '') return;
    const key = canonicalUser(user);
    // A known device's own mistakes do not lock its user out of anywhere else.
    if (this.devices.knows(key, source, now) || this.activeBlock('user', key, now)) return;
    // A source's share is capped: a lone guesser is the per-source limit's business, and must
    // not lock a user out of everywhere by itself; many slow sources still add up.
    if (this.failingPairs.add(`${key}\u0000${source}`, now) > MAX_FAILURES_PER_SOURCE_FOR_A_USER) return;
    const failures = this.failuresByUser.add(key, now);
    if (failures >= this.policy.maxUserAuthFailures) {
      this.impose('user', key, 'authentication-failures', failures, this.policy.blockSeconds * 1000, now);
    }
  }

  /**
   * A successful authentication: the (user, source) pair becomes a known device. It forgives
   * nothing, on purpose: a tool guessing many extensions from one source, one of which it
   * knows, would otherwise reset its own count with every success.
   */
  recordAuthSuccess(address: string, user: string): void {
    const now = this.maintain();
    this.devices.remember(canonicalUser(user), canonicalSource(address), now);
  }

  /**
   * Blocks a source (or locks a user) now, for `seconds` (default `blockSeconds`), replacing any
   * block it already has. With reason `manual` this is the operator's decision and applies even
   * to white-listed sources; with any other reason exempt sources are refused.
   * @returns the block set, or undefined when refused (exempt source, or empty value).
   * @throws RangeError when `seconds` is not a positive number.
   */
  block(kind: BlockKind, value: string, reason: BlockReason, seconds: number = this.policy.blockSeconds): BlockView | undefined {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
      throw new RangeError(`AbuseBlocker.block(${kind}, ${value}): seconds must be a positive number, got ${String(seconds)}`);
    }
    const now = this.maintain();
    const key = kind === 'source' ? canonicalSource(value) : canonicalUser(value);
    if (key === '') return undefined;
    if (kind === 'source' && reason !== 'manual' && this.isExempt(value)) return undefined;
    return this.impose(kind, key, reason, 0, seconds * 1000, now);
  }

  /** Lifts a block and forgets the counts behind it; returns whether a block was active. */
  unblock(kind: BlockKind, value: string): boolean {
    const now = this.maintain();
    const key = kind === 'source' ? canonicalSource(value) : canonicalUser(value);
    const wasActive = this.activeBlock(kind, key, now) !== undefined;
    this.blocks[kind].delete(key);
    this.forgetCounts(kind, key);
    if (kind === 'source') this.offences.delete(key);
    return wasActive;
  }

  /** The blocks in force now, oldest first, with ISO times. */
  list(): BlockView[] {
    const now = this.maintain();
    this.dropExpiredBlocks(now);
    return [...this.blocks.source.values(), ...this.blocks.user.values()].sort((a, b) => a.sinceMs - b.sinceMs).map(toView);
  }

  /** Sources blocked and users locked now. */
  get blocksActive(): number {
    this.dropExpiredBlocks(this.now());
    return this.blocks.source.size + this.blocks.user.size;
  }

  /** Automatic blocks (every reason but `manual`) set since this blocker was created. */
  get blocksTotal(): number {
    return this.automaticBlocksSet;
  }

  /** Whether this second's request budget for all sources is spent. */
  get overloaded(): boolean {
    return this.shedder.overloaded;
  }

  /** Keys held by the counters, the known devices and the offence memory: bounded by pruning and `maxTrackedKeys`. */
  get trackedCounters(): number {
    return this.requestsBySource.size + this.failuresBySource.size + this.failuresByUser.size + this.failingPairs.size + this.offences.size + this.devices.size;
  }

  /** Reads the clock and, now and then, prunes quiet counters and expired blocks. */
  private maintain(): number {
    const now = this.now();
    if (now - this.lastSweepMs >= this.sweepMs || now < this.lastSweepMs) {
      this.lastSweepMs = now;
      this.requestsBySource.prune(now);
      this.failuresBySource.prune(now);
      this.failuresByUser.prune(now);
      this.failingPairs.prune(now);
      this.devices.prune(now);
      for (const [key, offence] of this.offences) {
        if (now - offence.atMs < REPEAT_MEMORY_MS) break;
        this.offences.delete(key);
      }
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

  /** An automatic block of a source: `blockSeconds`, doubled for each repeat offence within a day. */
  private blockSource(key: string, reason: BlockReason, count: number, now: number): void {
    const before = this.offences.get(key);
    const repeats = before && now - before.atMs < REPEAT_MEMORY_MS ? before.count : 0;
    this.offences.delete(key);
    this.offences.set(key, { count: repeats + 1, atMs: now });
    if (this.offences.size > this.maxTrackedKeys) this.offences.delete(this.offences.keys().next().value!);
    const ms = Math.min(this.policy.blockSeconds * 2 ** Math.min(repeats, 30), this.policy.maxBlockSeconds) * 1000;
    this.impose('source', key, reason, count, ms, now);
  }

  private impose(kind: BlockKind, key: string, reason: BlockReason, count: number, ms: number, now: number): BlockView {
    const table = this.blocks[kind];
    table.delete(key);
    if (table.size >= this.maxTrackedKeys) this.makeRoomForBlock(table, now);
    const block: ActiveBlock = { kind, value: key, reason, count, sinceMs: now, untilMs: now + ms };
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
      this.failuresByUser.delete(key);
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

function canonicalUser(user: string): string {
  const trimmed = user.trim();
  return trimmed.length > MAX_USER_KEY ? trimmed.slice(0, MAX_USER_KEY) : trimmed;
}
