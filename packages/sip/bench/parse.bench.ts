/**
 * `npm run bench`: the message layer's parser and serializer on one core, in plain Node (no
 * vitest). Two realistic messages, a digest-authenticated REGISTER and an INVITE with SDP; for
 * each operation a warm-up, then ~2 s of timed batches. Prints a markdown table for the README.
 *
 *   npm run bench                 # ~2 s per measurement
 *   BENCH_MS=500 npm run bench    # quicker, noisier
 */
import { cpus } from 'node:os';
import { SipRequest, parseMessage, validateRequest, type AnySipMessage } from '../src/message/index.js';

const CRLF = '\r\n';
const lines = (...l: string[]): string => l.join(CRLF);

// Addresses are from the documentation ranges (RFC 5737); nothing is sent anywhere.
const REGISTER = Buffer.from(lines(
  'REGISTER sip:psi-lab.test SIP/2.0',
  'Via: SIP/2.0/UDP 198.51.100.23:5060;rport;branch=z9hG4bK.kdOyQ4Vnx',
  'Max-Forwards: 70',
  'From: <sip:1001@psi-lab.test>;tag=BXvsGPp3j',
  'To: <sip:1001@psi-lab.test>',
  'Call-ID: 9sYlKcD9Mt',
  'CSeq: 21 REGISTER',
  'Contact: <sip:1001@198.51.100.23>;+sip.instance="<urn:uuid:8f2d9f0e-52d1-4e8b-a9c3-11d0e6a1b7c4>";reg-id=1',
  'Expires: 3600',
  'User-Agent: Zoom/6.2.5',
  'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS',
  'Supported: outbound',
  'Authorization: Digest username="1001",realm="psi-lab",nonce="Zc3a9QAB",uri="sip:psi-lab.test",response="6629fae49393a05397450978507c4ef1",algorithm=MD5,cnonce="a1b2",nc=00000001,qop=auth',
  'Content-Length: 0',
  '', '',
));

const SDP = lines(
  'v=0',
  'o=1001 3747 3747 IN IP4 198.51.100.23',
  's=Talk',
  'c=IN IP4 198.51.100.23',
  't=0 0',
  'm=audio 7078 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=ptime:20',
  'a=sendrecv',
  '',
);

const INVITE = Buffer.from(lines(
  'INVITE sip:1002@psi-lab.test SIP/2.0',
  'Via: SIP/2.0/UDP 198.51.100.23:50744;rport;branch=z9hG4bK.Pq1x7Zk2u',
  'Max-Forwards: 70',
  'From: "Alice" <sip:1001@psi-lab.test>;tag=Tg8q4Hm2r',
  'To: <sip:1002@psi-lab.test>',
  'Call-ID: 5vB2nQ0wLx7e',
  'CSeq: 20 INVITE',
  'Contact: <sip:1001@198.51.100.23:50744;transport=udp>;+sip.instance="<urn:uuid:8f2d9f0e-52d1-4e8b-a9c3-11d0e6a1b7c4>"',
  'Route: <sip:198.51.100.1:5060;lr>',
  'User-Agent: Zoom/6.2.5',
  'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, UPDATE',
  'Supported: replaces, outbound, timer',
  'Session-Expires: 1800',
  'Content-Type: application/sdp',
  `Content-Length: ${Buffer.byteLength(SDP)}`,
  '',
  SDP,
));

interface Case {
  name: string;
  /** One operation; returns something derived from the work so nothing is optimized away. */
  run: () => unknown;
}

function request(buf: Buffer): SipRequest {
  const m = parseMessage(buf, { datagram: true });
  if (!(m instanceof SipRequest)) throw new Error('bench message is not a request');
  return m;
}

function casesFor(buf: Buffer): Case[] {
  // Sanity first: a benchmark of a message the stack rejects would measure the wrong thing.
  const check = request(buf);
  const problem = validateRequest(check);
  if (problem) throw new Error(`bench message fails validation: ${problem.message}`);
  if (!check.toBuffer().equals(buf)) throw new Error('unchanged message does not serialize to its own bytes');

  const unchanged = request(buf);
  const changed = request(buf);
  let mf = 70;
  return [
    { name: 'parse', run: () => parseMessage(buf, { datagram: true }) },
    {
      name: 'parse + routing headers (Via branch, CSeq, Call-ID, From tag, To)',
      run: () => {
        const m: AnySipMessage = parseMessage(buf, { datagram: true });
        return [m.via.branch, m.cseq.seq, m.callId, m.from.tag, m.to.uri];
      },
    },
    {
      name: 'parse + validateRequest',
      run: () => {
        const m = parseMessage(buf, { datagram: true }) as SipRequest;
        return validateRequest(m) ?? m;
      },
    },
    { name: 'toBuffer(), unchanged (reuses the received bytes)', run: () => unchanged.toBuffer() },
    {
      name: 'set Max-Forwards + toBuffer() (full re-serialization)',
      run: () => {
        mf = mf === 70 ? 69 : 70;
        changed.set('Max-Forwards', mf);
        return changed.toBuffer();
      },
    },
  ];
}

interface Measurement {
  ops: number;
  ns: number;
}

let sink = 0;
function consume(v: unknown): void {
  if (v === undefined || v === null) sink++;
  else if (Buffer.isBuffer(v)) sink += v.length;
  else sink += typeof v === 'object' ? 1 : 2;
}

function measure(c: Case, durationMs: number): Measurement {
  // Warm-up: let V8 optimize, and size a batch to ~10 ms.
  let batch = 64;
  const warmEnd = process.hrtime.bigint() + BigInt(Math.max(300, durationMs / 4)) * 1_000_000n;
  while (process.hrtime.bigint() < warmEnd) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) consume(c.run());
    const dt = Number(process.hrtime.bigint() - t0);
    if (dt < 10_000_000) batch = Math.min(batch * 2, 1 << 22);
  }
  let ops = 0;
  let ns = 0;
  const stop = durationMs * 1_000_000;
  while (ns < stop) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) consume(c.run());
    ns += Number(process.hrtime.bigint() - t0);
    ops += batch;
  }
  return { ops, ns };
}

const fmtRate = (m: Measurement): string => Math.round((m.ops / m.ns) * 1e9).toLocaleString('en-US');
const fmtUs = (m: Measurement): string => {
  const us = m.ns / m.ops / 1000;
  return us < 1 ? us.toFixed(3) : us.toFixed(2);
};

const durationMs = Number(process.env.BENCH_MS ?? 2000);
const messages = [
  { label: `REGISTER with digest (${REGISTER.length} B)`, buf: REGISTER },
  { label: `INVITE with SDP (${INVITE.length} B)`, buf: INVITE },
];

const suites = messages.map((m) => ({ ...m, cases: casesFor(m.buf) }));
const results: Measurement[][] = suites.map(() => []);
for (const [si, s] of suites.entries()) {
  for (const c of s.cases) {
    process.stderr.write(`  ${s.label}: ${c.name}... `);
    const r = measure(c, durationMs);
    results[si].push(r);
    process.stderr.write(`${fmtRate(r)} msg/s\n`);
  }
}

const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
const header = `| operation | ${suites.map((s) => `${s.label}: msg/s | µs/op`).join(' | ')} |`;
const rule = `|---|${suites.map(() => '---:|---:').join('|')}|`;
const rows = suites[0].cases.map((c, ci) => `| ${c.name} | ${results.map((r) => `${fmtRate(r[ci])} | ${fmtUs(r[ci])}`).join(' | ')} |`);

console.log('');
console.log(header);
console.log(rule);
for (const r of rows) console.log(r);
console.log('');
console.log(`Node ${process.version}, ${cpu} (${cpus().length} cores; one used), ${process.platform}/${process.arch}, ~${durationMs / 1000} s per figure.`);
if (sink === -1) console.log(''); // keeps `sink` observable
