import { describe, expect, it } from 'vitest';
import { RtpPacket, RtpStatistics } from '../src/rtp/index.js';

const packet = (seq: number, timestamp: number, ssrc = 0x1234): RtpPacket =>
  new RtpPacket({ payloadType: 0, sequenceNumber: seq, timestamp, ssrc, payload: Buffer.alloc(160) });

describe('RtpStatistics (RFC 3550 A.1, A.3, A.8)', () => {
  it('counts expected, lost and fraction lost across the sequence wrap', () => {
    const stats = new RtpStatistics({ clockRate: 8000 });
    // 65534, 65535, 0, (1 lost), 2, 3 — timestamps and arrivals perfectly paced.
    const sent: [seq: number, slot: number][] = [[65534, 0], [65535, 1], [0, 2], [2, 4], [3, 5]];
    for (const [seq, slot] of sent) stats.update(packet(seq, slot * 160), slot * 20);
    expect(stats.extendedHighestSeq).toBe(65536 + 3);
    expect(stats.expected).toBe(6);
    expect(stats.received).toBe(5);
    expect(stats.lost).toBe(1);
    const block = stats.reportBlock(0xb2c38000, 0x8000);
    // A.3: (lost_interval << 8) / expected_interval = 256 / 6.
    expect(block).toEqual({ ssrc: 0x1234, fractionLost: 42, cumulativeLost: 1, highestSeq: 65539, jitter: 0, lastSr: 0xb2c38000, delaySinceLastSr: 0x8000 });

    // Next interval: no loss, so the fraction resets while the cumulative count stays.
    stats.update(packet(4, 6 * 160), 6 * 20);
    stats.update(packet(5, 7 * 160), 7 * 20);
    expect(stats.reportBlock()).toMatchObject({ fractionLost: 0, cumulativeLost: 1, highestSeq: 65541 });
  });

  it('lets duplicates make the loss negative and reports fraction 0', () => {
    const stats = new RtpStatistics({ clockRate: 8000 });
    stats.update(packet(10, 0), 0);
    stats.update(packet(11, 160), 20);
    stats.update(packet(11, 160), 21);
    expect(stats.lost).toBe(-1);
    expect(stats.reportBlock().fractionLost).toBe(0);
  });

  it('counts a reordered packet as received without moving the highest sequence', () => {
    const stats = new RtpStatistics({ clockRate: 8000 });
    stats.update(packet(1, 0), 0);
    stats.update(packet(3, 320), 40);
    stats.update(packet(2, 160), 45);
    expect(stats.extendedHighestSeq).toBe(3);
    expect(stats.lost).toBe(0);
  });

  it('estimates interarrival jitter with the 1/16 gain', () => {
    const stats = new RtpStatistics({ clockRate: 8000 });
    stats.update(packet(0, 0), 1000);
    stats.update(packet(1, 160), 1020);
    expect(stats.jitter).toBe(0);
    stats.update(packet(2, 320), 1050); // 10 ms = 80 units late: J = 80/16
    expect(stats.jitter).toBe(5);
    stats.update(packet(3, 480), 1060); // back on time: D = 80 again
    expect(stats.jitter).toBeCloseTo(5 + (80 - 5) / 16, 10);
    expect(stats.reportBlock().jitter).toBe(9);
  });

  it('restarts on a big sequence jump only once the next packet confirms it', () => {
    const stats = new RtpStatistics({ clockRate: 8000 });
    stats.update(packet(100, 0), 0);
    stats.update(packet(101, 160), 20);
    stats.update(packet(20000, 320), 40); // stray: ignored
    expect(stats.received).toBe(2);
    stats.update(packet(102, 480), 60);
    expect(stats.expected).toBe(3);
    stats.update(packet(30000, 640), 80);
    stats.update(packet(30001, 800), 100); // confirmed: the sender restarted its sequence
    expect(stats.expected).toBe(1);
    expect(stats.received).toBe(1);
    expect(stats.extendedHighestSeq).toBe(30001);
  });

  it('starts over for a new SSRC', () => {
    const stats = new RtpStatistics({ clockRate: 8000 });
    stats.update(packet(1, 0, 1), 0);
    stats.update(packet(3, 320, 1), 40);
    stats.update(packet(500, 0, 2), 60);
    expect(stats.sourceSsrc).toBe(2);
    expect(stats.expected).toBe(1);
    expect(stats.lost).toBe(0);
  });
});
