import { describe, expect, it } from 'vitest';
import type { BlockView } from '../src/status/types.js';
import { AbuseBlocker, AccessList, DEFAULT_MAX_TRACKED_KEYS, type AbuseBlockerOptions, type AbusePolicy } from '../src/security/index.js';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const POLICY: AbusePolicy = {
  maxAuthFailures: 3, maxUserAuthFailures: 3, authFailureWindowSeconds: 600, knownDeviceDays: 30,
  maxRequestsPerWindow: 5, windowSeconds: 10, maxRequestsPerSecond: 1_000_000_000, blockSeconds: 60, maxBlockSeconds: 240,
};

/** A blocker on a fake clock, with the blocks it reported. */
function setup(options: Partial<AbuseBlockerOptions> = {}) {
  const clock = { ms: T0 };
  const reported: BlockView[] = [];
  const blocker = new AbuseBlocker({
    policy: POLICY,
    now: () => clock.ms,
    onBlock: (block) => reported.push(block),
    ...options,
  });
  const advance = (seconds: number) => {
    clock.ms += seconds * 1000;
  };
  return { blocker, clock, reported, advance };
}

/** `n` distinct IPv4 addresses in 10.0.0.0/8. */
function address(n: number): string {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

describe('AbuseBlocker: authentication failures, counted over minutes', () => {
  it('blocks a source after maxAuthFailures within the window, and reports it', () => {
    const { blocker, reported } = setup();
    blocker.recordAuthFailure('203.0.113.9', '1001');
    blocker.recordAuthFailure('203.0.113.9', '1002');
    expect(blocker.allowsSource('203.0.113.9')).toBe(true);
    blocker.recordAuthFailure('203.0.113.9', '1003');
    expect(blocker.allowsSource('203.0.113.9')).toBe(false);
    expect(blocker.allowsSource('203.0.113.10')).toBe(true);
    expect(reported).toContainEqual(expect.objectContaining({ kind: 'source', value: '203.0.113.9', reason: 'authentication-failures', count: 3 }));
  });

  it('catches a slow guesser: one guess every 2 minutes is still three within the 10-minute window', () => {
    const { blocker, advance } = setup();
    blocker.recordAuthFailure('203.0.113.9');
    advance(120);
    blocker.recordAuthFailure('203.0.113.9');
    advance(120);
    expect(blocker.allowsSource('203.0.113.9')).toBe(true);
    blocker.recordAuthFailure('203.0.113.9');
    expect(blocker.allowsSource('203.0.113.9')).toBe(false);
  });

  it('does not block failures spread wider than the window, whatever its alignment', () => {
    const { blocker, advance } = setup();
    blocker.recordAuthFailure('203.0.113.9');
    advance(400);
    blocker.recordAuthFailure('203.0.113.9');
    advance(300); // the first failure is now 700 s old: two within any 600 s
    blocker.recordAuthFailure('203.0.113.9');
    expect(blocker.allowsSource('203.0.113.9')).toBe(true);
    advance(50); // failures at 400, 700 and 750 s: three within 600 s
    blocker.recordAuthFailure('203.0.113.9');
    expect(blocker.allowsSource('203.0.113.9')).toBe(false);
  });

  it('blocks a repeat offender twice as long each time, up to maxBlockSeconds', () => {
    const { blocker, advance, reported } = setup();
    const offend = (): void => {
      for (let i = 0; i < 3; i++) blocker.recordAuthFailure('203.0.113.9');
    };
    const lengths: number[] = [];
    for (let round = 0; round < 4; round++) {
      offend();
      const block = reported.at(-1)!;
      lengths.push((Date.parse(block.until) - Date.parse(block.since)) / 1000);
      advance(lengths.at(-1)!);
      expect(blocker.allowsSource('203.0.113.9')).toBe(true);
    }
    expect(lengths).toEqual([60, 120, 240, 240]);
  });

  it('does not forgive failures after a success (one known password must not cover the guessing)', () => {
    const { blocker } = setup();
    blocker.recordAuthFailure('203.0.113.9', '1002');
    blocker.recordAuthFailure('203.0.113.9', '1003');
    blocker.recordAuthSuccess('203.0.113.9', '1001');
    blocker.recordAuthFailure('203.0.113.9', '1004');
    expect(blocker.allowsSource('203.0.113.9')).toBe(false);
  });

  it('counts an IPv4-mapped source and its IPv4 spelling as one source', () => {
    const { blocker } = setup();
    blocker.recordAuthFailure('::ffff:203.0.113.9');
    blocker.recordAuthFailure('203.0.113.9');
    blocker.recordAuthFailure('::FFFF:203.0.113.9');
    expect(blocker.allowsSource('203.0.113.9')).toBe(false);
    expect(blocker.allowsSource('::ffff:203.0.113.9')).toBe(false);
    expect(blocker.list().map((b) => b.value)).toEqual(['203.0.113.9']);
  });

  it('blocks IPv6 sources under their canonical spelling', () => {
    const { blocker } = setup();
    blocker.recordAuthFailure('2001:DB8:0:0:0:0:0:1');
    blocker.recordAuthFailure('[2001:db8::1]');
    blocker.recordAuthFailure('2001:db8::1');
    expect(blocker.allowsSource('2001:0db8::0001')).toBe(false);
    expect(blocker.list()[0]?.value).toBe('2001:db8::1');
  });
});

describe('AbuseBlocker: a distributed crack of one user', () => {
  it('locks the user for every source it never authenticated from, and no source is blocked for it', () => {
    const { blocker, reported } = setup();
    blocker.recordAuthSuccess('192.0.2.50', '1001'); // the user's own phone, last week
    for (let i = 1; i <= 3; i++) blocker.recordAuthFailure(`198.51.100.${i}`, '1001');
    expect(reported).toEqual([expect.objectContaining({ kind: 'user', value: '1001', reason: 'authentication-failures', count: 3 })]);
    expect(blocker.allowsUserFrom('1001', '198.51.100.99')).toBe(false);
    expect(blocker.allowsUserFrom('1001', '198.51.100.1')).toBe(false);
    // Its own device keeps working, and other users are not concerned.
    expect(blocker.allowsUserFrom('1001', '192.0.2.50')).toBe(true);
    expect(blocker.allowsUserFrom('1002', '198.51.100.99')).toBe(true);
    for (let i = 1; i <= 3; i++) expect(blocker.allowsSource(`198.51.100.${i}`)).toBe(true);
  });

  it('counts at most 3 failures a source toward a user: one guesser alone cannot lock it out, slow guessers together do', () => {
    const { blocker } = setup({ policy: { ...POLICY, maxAuthFailures: 100, maxUserAuthFailures: 10 } });
    for (let i = 0; i < 50; i++) blocker.recordAuthFailure('198.51.100.1', '1001');
    expect(blocker.allowsUserFrom('1001', '203.0.113.5')).toBe(true);
    // 9 sources guessing 9 times each, every one under its own limit: 27 counted, locked.
    for (let source = 2; source <= 4; source++) for (let i = 0; i < 9; i++) blocker.recordAuthFailure(`198.51.100.${source}`, '1001');
    expect(blocker.allowsUserFrom('1001', '203.0.113.5')).toBe(false);
  });

  it('does not let a known device\'s own typos lock its user out elsewhere', () => {
    const { blocker } = setup();
    blocker.recordAuthSuccess('192.0.2.50', '1001');
    for (let i = 0; i < 2; i++) blocker.recordAuthFailure('192.0.2.50', '1001');
    blocker.recordAuthFailure('198.51.100.1', '1001');
    expect(blocker.allowsUserFrom('1001', '198.51.100.77')).toBe(true);
  });

  it('forgets a device after knownDeviceDays, and lifts a lock after blockSeconds or by hand', () => {
    const { blocker, advance } = setup({ policy: { ...POLICY, knownDeviceDays: 1, blockSeconds: 3600 } });
    blocker.recordAuthSuccess('192.0.2.50', '1001');
    advance(86_401);
    for (let i = 1; i <= 3; i++) blocker.recordAuthFailure(`198.51.100.${i}`, '1001');
    expect(blocker.allowsUserFrom('1001', '192.0.2.50')).toBe(false);
    advance(3600);
    expect(blocker.allowsUserFrom('1001', '192.0.2.50')).toBe(true);
    for (let i = 4; i <= 6; i++) blocker.recordAuthFailure(`198.51.100.${i}`, '1001');
    expect(blocker.allowsUserFrom('1001', '198.51.100.9')).toBe(false);
    expect(blocker.unblock('user', '1001')).toBe(true);
    expect(blocker.allowsUserFrom('1001', '198.51.100.9')).toBe(true);
  });
});

describe('AbuseBlocker: request floods', () => {
  it('allows maxRequestsPerWindow requests and blocks the source on the next one', () => {
    const { blocker, reported } = setup();
    for (let i = 0; i < 5; i++) expect(blocker.recordRequest('203.0.113.50')).toBe(true);
    expect(blocker.recordRequest('203.0.113.50')).toBe(false);
    expect(blocker.allowsSource('203.0.113.50')).toBe(false);
    expect(blocker.recordRequest('203.0.113.50')).toBe(false);
    expect(blocker.recordRequest('203.0.113.51')).toBe(true);
    expect(reported).toEqual([expect.objectContaining({ kind: 'source', value: '203.0.113.50', reason: 'flood', count: 6 })]);
  });

  it('gives an address that sets authenticated from ten times the room (a NAT\'d office)', () => {
    const { blocker } = setup();
    blocker.recordAuthSuccess('192.0.2.80', '1001');
    for (let i = 0; i < 50; i++) expect(blocker.recordRequest('192.0.2.80')).toBe(true);
    expect(blocker.recordRequest('192.0.2.80')).toBe(false);
  });

  it('does not block a steady rate spread over windows', () => {
    const { blocker, advance } = setup();
    for (let i = 0; i < 100; i++) {
      expect(blocker.recordRequest('203.0.113.50')).toBe(true);
      advance(2.5); // four per 10 s window
    }
    expect(blocker.blocksTotal).toBe(0);
  });

  it('over the global budget, drops the heaviest sources of that second and lets a light one through', () => {
    const { blocker, advance } = setup({ policy: { ...POLICY, maxRequestsPerWindow: 1_000_000, maxRequestsPerSecond: 1000 } });
    let dropped = 0;
    for (let round = 0; round < 40; round++) {
      for (let source = 0; source < 100; source++) if (!blocker.recordRequest(address(source))) dropped++;
    }
    expect(dropped).toBeGreaterThan(2000);
    expect(blocker.overloaded).toBe(true);
    expect(blocker.recordRequest('192.0.2.200')).toBe(true);
    expect(blocker.list()).toEqual([]);
    advance(1);
    expect(blocker.recordRequest(address(0))).toBe(true);
    expect(blocker.overloaded).toBe(false);
  });
});

describe('AbuseBlocker: white list, manual blocks, expiry', () => {
  it('never counts or blocks white-listed sources automatically', () => {
    const access = new AccessList([{ cidr: '192.168.0.0/16', list: 'white' }]);
    const { blocker } = setup({ isExempt: (a) => access.isWhite(a) });
    for (let i = 0; i < 50; i++) {
      expect(blocker.recordRequest('192.168.1.10')).toBe(true);
      blocker.recordAuthFailure('::ffff:192.168.1.10', '1001');
    }
    expect(blocker.allowsSource('192.168.1.10')).toBe(true);
    expect(blocker.allowsUserFrom('1001', '203.0.113.1')).toBe(true);
    expect(blocker.block('source', '192.168.1.10', 'flood')).toBeUndefined();
    expect(blocker.allowsSource('192.168.1.10')).toBe(true);
    expect(blocker.trackedCounters).toBe(0);
    // The operator may still block one by hand.
    expect(blocker.block('source', '192.168.1.10', 'manual')).toBeDefined();
    expect(blocker.allowsSource('192.168.1.10')).toBe(false);
  });

  it('blocks and unblocks by hand, sources and users', () => {
    const { blocker, reported } = setup();
    const view = blocker.block('source', '::ffff:203.0.113.7', 'manual', 30);
    expect(view).toEqual({
      kind: 'source', value: '203.0.113.7', reason: 'manual', count: 0,
      since: new Date(T0).toISOString(), until: new Date(T0 + 30_000).toISOString(),
    });
    expect(reported).toEqual([view]);
    blocker.block('user', '1002', 'manual');
    expect(blocker.allowsSource('203.0.113.7')).toBe(false);
    expect(blocker.allowsUserFrom('1002', '203.0.113.8')).toBe(false);
    expect(blocker.blocksActive).toBe(2);
    expect(blocker.blocksTotal).toBe(0); // manual blocks are not automatic ones

    expect(blocker.unblock('source', '203.0.113.7')).toBe(true);
    expect(blocker.unblock('source', '203.0.113.7')).toBe(false);
    expect(blocker.unblock('user', '1002')).toBe(true);
    expect(blocker.allowsSource('203.0.113.7')).toBe(true);
    expect(blocker.allowsUserFrom('1002', '203.0.113.8')).toBe(true);
    expect(blocker.blocksActive).toBe(0);
    expect(() => blocker.block('source', '203.0.113.7', 'manual', 0)).toThrow(/seconds must be a positive number/);
  });

  it('forgets the counts behind a block when it is lifted, and its offences', () => {
    const { blocker, reported } = setup();
    for (let i = 0; i < 3; i++) blocker.recordAuthFailure('203.0.113.9');
    expect(blocker.unblock('source', '203.0.113.9')).toBe(true);
    blocker.recordAuthFailure('203.0.113.9');
    expect(blocker.allowsSource('203.0.113.9')).toBe(true);
    for (let i = 0; i < 2; i++) blocker.recordAuthFailure('203.0.113.9');
    const block = reported.at(-1)!;
    expect((Date.parse(block.until) - Date.parse(block.since)) / 1000).toBe(60);
  });

  it('lets blocks expire by themselves on the clock', () => {
    const { blocker, advance } = setup();
    for (let i = 0; i < 6; i++) blocker.recordRequest('203.0.113.50');
    blocker.block('user', '1003', 'manual', 120);
    advance(59.999);
    expect(blocker.allowsSource('203.0.113.50')).toBe(false);
    expect(blocker.blocksActive).toBe(2);
    advance(0.001);
    expect(blocker.allowsSource('203.0.113.50')).toBe(true);
    expect(blocker.recordRequest('203.0.113.50')).toBe(true);
    expect(blocker.blocksActive).toBe(1);
    expect(blocker.list().map((b) => b.value)).toEqual(['1003']);
    advance(60);
    expect(blocker.allowsUserFrom('1003', '203.0.113.50')).toBe(true);
    expect(blocker.list()).toEqual([]);
    expect(blocker.blocksTotal).toBe(1);
  });

  it('lists active blocks oldest first with ISO times and counts', () => {
    const { blocker, advance } = setup();
    for (let i = 0; i < 3; i++) blocker.recordAuthFailure('203.0.113.9');
    advance(5);
    for (let i = 1; i <= 3; i++) blocker.recordAuthFailure(`198.51.100.${i}`, '1001');
    advance(5);
    for (let i = 0; i < 6; i++) blocker.recordRequest('2001:db8::7');
    expect(blocker.list()).toEqual([
      { kind: 'source', value: '203.0.113.9', reason: 'authentication-failures', count: 3, since: '2025-01-01T12:00:00.000Z', until: '2025-01-01T12:01:00.000Z' },
      { kind: 'user', value: '1001', reason: 'authentication-failures', count: 3, since: '2025-01-01T12:00:05.000Z', until: '2025-01-01T12:01:05.000Z' },
      { kind: 'source', value: '2001:db8::7', reason: 'flood', count: 6, since: '2025-01-01T12:00:10.000Z', until: '2025-01-01T12:01:10.000Z' },
    ]);
    expect(blocker.blocksActive).toBe(3);
    expect(blocker.blocksTotal).toBe(3);
  });

  it('rejects a policy with a non-positive limit, naming the field', () => {
    expect(() => new AbuseBlocker({ policy: { ...POLICY, windowSeconds: 0 } })).toThrow(/policy\.windowSeconds/);
    expect(() => new AbuseBlocker({ policy: { ...POLICY, maxAuthFailures: Number.NaN } })).toThrow(/policy\.maxAuthFailures/);
    expect(() => new AbuseBlocker({ policy: { ...POLICY, maxRequestsPerSecond: -1 } })).toThrow(/policy\.maxRequestsPerSecond/);
  });
});

describe('AbuseBlocker: bounded memory under a spoofed-source flood', () => {
  it('keeps at most the default number of counters for 100k distinct sources', () => {
    const { blocker } = setup({ policy: { ...POLICY, maxRequestsPerWindow: 2000 } });
    for (let i = 0; i < 100_000; i++) blocker.recordRequest(address(i));
    expect(DEFAULT_MAX_TRACKED_KEYS).toBeLessThan(100_000);
    expect(blocker.trackedCounters).toBeGreaterThan(0);
    expect(blocker.trackedCounters).toBeLessThanOrEqual(DEFAULT_MAX_TRACKED_KEYS);
    // The newest sources are the ones kept: the last one is still counted.
    for (let i = 0; i < 1999; i++) blocker.recordRequest(address(99_999));
    expect(blocker.recordRequest(address(99_999))).toBe(false);
  });

  it('caps failure counters per source and per user as well', () => {
    const { blocker } = setup({ maxTrackedKeys: 1000 });
    for (let i = 0; i < 100_000; i++) blocker.recordAuthFailure(address(i), `user-${i}`);
    // Three tables (per source, per user, per user and source), each capped.
    expect(blocker.trackedCounters).toBeLessThanOrEqual(3000);
    expect(blocker.list()).toEqual([]);
  });

  it('prunes the counters of sources that went quiet', () => {
    const { blocker, advance } = setup();
    for (let i = 0; i < 100_000; i++) {
      blocker.recordRequest(address(i));
      if (i % 10 === 0) blocker.recordAuthFailure(address(i), `user-${i}`);
    }
    expect(blocker.trackedCounters).toBeGreaterThan(1000);
    advance(POLICY.authFailureWindowSeconds);
    blocker.recordRequest('203.0.113.1');
    expect(blocker.trackedCounters).toBe(1);
  });

  it('keeps existing blocks through the flood', () => {
    const { blocker } = setup({ maxTrackedKeys: 1000 });
    for (let i = 0; i < 6; i++) blocker.recordRequest('203.0.113.50');
    blocker.block('source', '203.0.113.60', 'manual');
    for (let i = 0; i < 100_000; i++) blocker.recordRequest(address(i));
    expect(blocker.allowsSource('203.0.113.50')).toBe(false);
    expect(blocker.allowsSource('203.0.113.60')).toBe(false);
  });

  it('caps the block table, evicting the oldest automatic blocks and never manual ones', () => {
    const { blocker, advance } = setup({ maxTrackedKeys: 10 });
    blocker.block('source', '203.0.113.1', 'manual');
    for (let i = 0; i < 100; i++) {
      advance(0.01);
      blocker.block('source', address(i), 'flood');
    }
    expect(blocker.blocksActive).toBeLessThanOrEqual(10);
    expect(blocker.allowsSource('203.0.113.1')).toBe(false);
    expect(blocker.allowsSource(address(99))).toBe(false);
    expect(blocker.allowsSource(address(0))).toBe(true);
    expect(blocker.blocksTotal).toBe(100);
  });
});
