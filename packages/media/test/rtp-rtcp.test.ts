import { describe, expect, it } from 'vitest';
import {
  RtpError,
  buildRtcpCompound,
  ntpFromUnixMs,
  ntpMiddle32,
  parseRtcp,
  serializeRtcp,
  type RtcpPacket,
} from '../src/rtp/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// A hand-built compound packet: SR (one report block) + SDES CNAME "alice@lab" + BYE "done".
const SR = '81 c8 000c 11223344 e7a1b2c3 80000000 00001f40 00000064 00003e80' +
  ' 99887766 2a 000001 00010003 0000000a b2c38000 00008000';
const SDES = '81 ca 0004 11223344 01 09 616c696365406c6162 00';
const BYE = '81 cb 0003 11223344 04 646f6e65 000000';
const COMPOUND = hex(SR + SDES + BYE);

describe('parseRtcp', () => {
  it('splits a compound packet into SR, SDES and BYE', () => {
    const [sr, sdes, bye, ...rest] = parseRtcp(COMPOUND);
    expect(rest).toEqual([]);
    expect(sr).toEqual({
      type: 'SR',
      ssrc: 0x11223344,
      sender: { ntpSeconds: 0xe7a1b2c3, ntpFraction: 0x80000000, rtpTimestamp: 8000, packetCount: 100, octetCount: 16000 },
      reports: [{ ssrc: 0x99887766, fractionLost: 42, cumulativeLost: 1, highestSeq: 0x10003, jitter: 10, lastSr: 0xb2c38000, delaySinceLastSr: 0x8000 }],
    });
    expect(sdes).toEqual({ type: 'SDES', chunks: [{ ssrc: 0x11223344, cname: 'alice@lab', items: [{ type: 1, value: 'alice@lab' }] }] });
    expect(bye).toEqual({ type: 'BYE', ssrcs: [0x11223344], reason: 'done' });
  });

  it('reads an RR and a negative cumulative loss (duplicates)', () => {
    const [rr] = parseRtcp(hex('81 c9 0007 01020304 0a0b0c0d 00 fffffe 0000ffff 00000000 00000000 00000000'));
    expect(rr).toMatchObject({ type: 'RR', ssrc: 0x01020304, reports: [{ ssrc: 0x0a0b0c0d, fractionLost: 0, cumulativeLost: -2, highestSeq: 65535 }] });
  });

  it('keeps unknown packet types (APP) raw', () => {
    const [app] = parseRtcp(hex('82 cc 0002 11223344 70736921'));
    expect(app).toEqual({ type: 'raw', packetType: 204, count: 2, body: hex('11223344 70736921') });
  });

  it('rejects malformed compound packets with the offset', () => {
    expect(() => parseRtcp(hex('41 c8 0000'))).toThrow(/version 1 at offset 0/);
    expect(() => parseRtcp(hex('81 c9 0007 01020304'))).toThrow(/claims 32 octets, 8 remain/);
    expect(() => parseRtcp(hex('81 c9 0001 01020304'))).toThrow(/needs 28 octets of body, has 4/);
    expect(() => parseRtcp(hex(`${SR} 80 c9`))).toThrow(/truncated header at offset 52/);
    expect(() => parseRtcp(hex('81 ca 0002 11223344 01 09 6161'))).toThrow(RtpError);
  });
});

describe('serializeRtcp / buildRtcpCompound', () => {
  it('writes the hand-built compound packet octet for octet', () => {
    expect(serializeRtcp(parseRtcp(COMPOUND))).toEqual(COMPOUND);
  });

  it('builds an RR + SDES compound when nothing was sent, and SR when something was', () => {
    const rr = parseRtcp(buildRtcpCompound({ ssrc: 7, cname: 'bob@127.0.0.1' }));
    expect(rr.map((p) => p.type)).toEqual(['RR', 'SDES']);
    expect(rr[1]).toMatchObject({ chunks: [{ ssrc: 7, cname: 'bob@127.0.0.1' }] });

    const sender = { ...ntpFromUnixMs(1_700_000_000_500), rtpTimestamp: 160, packetCount: 1, octetCount: 160 };
    const block = { ssrc: 9, fractionLost: 64, cumulativeLost: 3, highestSeq: 70000, jitter: 12, lastSr: 0, delaySinceLastSr: 0 };
    const sr = parseRtcp(buildRtcpCompound({ ssrc: 7, cname: 'bob', sender, reports: [block], bye: 'hangup' }));
    expect(sr.map((p) => p.type)).toEqual(['SR', 'SDES', 'BYE']);
    expect(sr[0]).toEqual({ type: 'SR', ssrc: 7, sender, reports: [block] });
    expect(sr[2]).toEqual({ type: 'BYE', ssrcs: [7], reason: 'hangup' });
  });

  it('pads SDES chunks and BYE reasons to 32-bit words for every length', () => {
    for (let length = 0; length < 9; length++) {
      const text = 'x'.repeat(length);
      const packets: RtcpPacket[] = [
        { type: 'SDES', chunks: [{ ssrc: 1, cname: `c${text}`, items: [] }, { ssrc: 2, cname: text, items: [] }] },
        { type: 'BYE', ssrcs: [1, 2], reason: text },
      ];
      const wire = serializeRtcp(packets);
      expect(wire.length % 4).toBe(0);
      const [sdes, bye] = parseRtcp(wire);
      expect(sdes).toMatchObject({ chunks: [{ ssrc: 1, cname: `c${text}` }, { ssrc: 2, cname: text }] });
      expect(bye).toEqual({ type: 'BYE', ssrcs: [1, 2], reason: text });
    }
  });

  it('refuses more than 31 report blocks', () => {
    const block = { ssrc: 1, fractionLost: 0, cumulativeLost: 0, highestSeq: 0, jitter: 0, lastSr: 0, delaySinceLastSr: 0 };
    expect(() => serializeRtcp([{ type: 'RR', ssrc: 1, reports: new Array(32).fill(block) }])).toThrow(/32 report blocks/);
  });
});

describe('NTP helpers', () => {
  it('converts the Unix epoch and half seconds', () => {
    expect(ntpFromUnixMs(0)).toEqual({ ntpSeconds: 2_208_988_800, ntpFraction: 0 });
    expect(ntpFromUnixMs(1500)).toEqual({ ntpSeconds: 2_208_988_801, ntpFraction: 0x80000000 });
  });

  it('takes the middle 32 bits for LSR', () => {
    expect(ntpMiddle32(0xe7a1b2c3, 0x80000000)).toBe(0xb2c38000);
  });
});
