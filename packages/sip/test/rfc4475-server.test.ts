import dgram from 'node:dgram';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SipResponse, parseMessage, type Flow, type SipApp } from '../src/index.js';
import { RFC4475_DIR, corpusAvailable, leaseLoopbackAddress, tortureCases, type TortureCase } from '@psi-lab/testkit';
import { createTestServer, listenUdpAndTcp } from './helpers/test-server.js';

/**
 * Server level: each RFC 4475 message sent over the transport its top Via names to a running
 * server built on the stack, and what comes back checked against EXPECTED.tsv. As the corpus
 * README requires, UDP probes are sent from another loopback address (this file's leased one) on
 * the Via's port, so a compliant answer (to the source address, RFC 3261 §18.2.2) comes back to
 * the probe and nowhere else.
 *
 * Every probe ends on events, never on a timer: a positive case waits for its answer; then an
 * OPTIONS "fence" goes out on the same socket or connection, and its 200 proves the server has
 * processed the probe (it reads one socket in order), so whatever the probe was going to draw
 * has come back by then. A silent case is also checked against the server's own decision.
 */
const have = corpusAvailable(RFC4475_DIR);
/** This file's own loopback address: the server and every probe. */
const HOST = await leaseLoopbackAddress();
/** Generous: a busy machine answers in milliseconds, a few hundred at worst. */
const BOUND_MS = 10_000;
/** The first answer a compliant element sends; 'none' where it must stay silent. */
const EXPECTED_ANSWER: Record<string, string> = {
  // valid: parsed and processed, never 400
  'wsinv.dat': '486', 'intmeth.dat': '501', 'esc01.dat': '486', 'escnull.dat': '401', 'esc02.dat': '501',
  'lwsdisp.dat': '200', 'longreq.dat': '486', 'dblreq.dat': '401', 'semiuri.dat': '200', 'transports.dat': '200',
  'mpart01.dat': '200', 'unreason.dat': 'none', 'noreason.dat': 'none',
  // invalid
  'badinv01.dat': '400', 'clerr.dat': '400', 'ncl.dat': '400', 'scalar02.dat': '400', 'scalarlg.dat': 'none',
  'quotbal.dat': '400', 'ltgtruri.dat': '400', 'lwsruri.dat': '400', 'lwsstart.dat': '400', 'trws.dat': '400',
  'escruri.dat': '400', 'baddate.dat': '486', 'regbadct.dat': '400', 'badaspec.dat': '400', 'baddn.dat': '400',
  'badvers.dat': '505', 'mismatch01.dat': '400', 'mismatch02.dat': '400', 'bigcode.dat': 'none',
  // semantic
  'badbranch.dat': '200', 'insuf.dat': 'none', 'unkscm.dat': '416', 'novelsc.dat': '416', 'unksm2.dat': '401',
  'bext01.dat': '420', 'invut.dat': '415', 'regaut01.dat': '401', 'multi01.dat': '400', 'mcl01.dat': '400',
  'bcast.dat': 'none', 'zeromf.dat': '483', 'cparam01.dat': '401', 'cparam02.dat': '401', 'regescrt.dat': '401',
  'sdp01.dat': '406', 'inv2543.dat': '486',
};

function topVia(data: Buffer): { transport: 'udp' | 'tcp'; port: number } {
  const text = data.toString('latin1').replace(/\r\n[ \t]+/g, ' ');
  const m = /^(?:via|v)[ \t]*:[ \t]*SIP[ \t]*\/[ \t]*[^/]+\/[ \t]*(\S+)[ \t]+([^;,\s]+)/im.exec(text);
  if (!m) return { transport: 'udp', port: 5060 };
  const port = /:(\d+)$/.exec(m[2]);
  return { transport: m[1].toUpperCase() === 'UDP' ? 'udp' : 'tcp', port: port ? Number(port[1]) : 5060 };
}

/** What the server's transport decided about a message from a given source (address:port). */
type Decision = { kind: 'request'; callId: string } | { kind: 'response' } | { kind: 'rejected'; status: number | undefined };

/** Records every decision of `app`'s transport, by the source of the message. */
function decisionLog(app: SipApp): (source: string) => Decision[] {
  const log = new Map<string, Decision[]>();
  const add = (flow: Flow, d: Decision): void => {
    const key = `${flow.remote.address}:${flow.remote.port}`;
    log.set(key, [...(log.get(key) ?? []), d]);
  };
  app.transport.on('request', (req, flow) => add(flow, { kind: 'request', callId: req.callId }));
  app.transport.on('response', (_res, flow) => add(flow, { kind: 'response' }));
  app.transport.on('rejected', (_e, flow, status) => add(flow, { kind: 'rejected', status }));
  return (source) => log.get(source) ?? [];
}

let fences = 0;
function fence(transport: 'UDP' | 'TCP', port: number): { callId: string; data: Buffer } {
  const callId = `fence-${++fences}`;
  return {
    callId,
    data: Buffer.from(`OPTIONS sip:x@${HOST} SIP/2.0\r\nVia: SIP/2.0/${transport} ${HOST}:${port};branch=z9hG4bK${callId};rport\r\nFrom: <sip:fence@${HOST}>;tag=1\r\nTo: <sip:x@${HOST}>\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`),
  };
}

interface Outcome {
  /** Answers with the probe's Call-ID (every answer when it has none we can read). */
  answers: SipResponse[];
  /** Every answer but the fence's, whatever its Call-ID. */
  all: SipResponse[];
  /** The server closed the connection (TCP). */
  closed: boolean;
  /** The fence's 200 came back (false only when the server closed the connection first). */
  fenced: boolean;
  /** Where the probe came from, as the server saw it: the key of the decision log. */
  source: string;
}

function callIdOf(data: Buffer): string | undefined {
  return /^(?:call-id|i)[ \t]*:[ \t]*(\S+)/im.exec(data.toString('latin1'))?.[1];
}

/** Resolves when `cond` holds after an event (call `poke` on each), rejects at BOUND_MS naming `what`. */
function eventually(what: () => string): { wait(cond: () => boolean): Promise<void>; poke(): void } {
  let pending: { cond: () => boolean; resolve: () => void } | undefined;
  return {
    poke: () => {
      if (pending?.cond()) pending.resolve();
    },
    wait: (cond) => new Promise<void>((resolve, reject) => {
      if (cond()) return resolve();
      const timer = setTimeout(() => reject(new Error(`timed out after ${BOUND_MS} ms waiting for ${what()}`)), BOUND_MS);
      pending = { cond, resolve: () => {
        clearTimeout(timer);
        pending = undefined;
        resolve();
      } };
    }),
  };
}

/**
 * Send `data` over UDP from HOST:fromPort (the Via's port), wait for its answer when one is
 * expected, then fence: an OPTIONS from the same socket, whose 200 ends the exchange.
 */
async function probeUdp(data: Buffer, serverPort: number, fromPort: number, expectAnswer: boolean): Promise<Outcome> {
  const sock = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', (e) => reject(new Error(`cannot bind the probe on ${HOST}:${fromPort}: ${e.message}`)));
      sock.bind(fromPort, HOST, () => resolve());
    });
    const callId = callIdOf(data);
    const f = fence('UDP', fromPort);
    const out: Outcome = { answers: [], all: [], closed: false, fenced: false, source: `${HOST}:${fromPort}` };
    const ev = eventually(() => `${out.answers.length ? 'the fence\'s 200' : `an answer to ${callId}`} on ${HOST}:${fromPort}`);
    const failures: string[] = [];
    sock.on('message', (m) => {
      let res: SipResponse;
      try {
        res = parseMessage(m) as SipResponse;
      } catch (e) {
        failures.push(`unparseable answer: ${(e as Error).message}`);
        return ev.poke();
      }
      if (res.get('call-id') === f.callId) out.fenced = res.status === 200;
      else {
        out.all.push(res);
        if (callId === undefined || res.get('call-id') === callId) out.answers.push(res);
      }
      ev.poke();
    });
    sock.send(data, serverPort, HOST);
    if (expectAnswer) await ev.wait(() => out.answers.length > 0 || failures.length > 0);
    sock.send(f.data, serverPort, HOST);
    await ev.wait(() => out.fenced || failures.length > 0);
    expect(failures).toEqual([]);
    return out;
  } finally {
    sock.close();
  }
}

/** The same over a TCP connection from HOST; a connection the server closes ends the exchange too. */
async function probeTcp(data: Buffer, serverPort: number, expectAnswer: boolean): Promise<Outcome> {
  const sock = net.connect({ port: serverPort, host: HOST, localAddress: HOST });
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
    });
    sock.on('error', () => undefined); // a reset ends in 'close'
    const callId = callIdOf(data);
    const f = fence('TCP', 5060);
    const out: Outcome = { answers: [], all: [], closed: false, fenced: false, source: `${HOST}:${sock.localPort}` };
    const ev = eventually(() => `${out.answers.length ? 'the fence\'s 200' : `an answer to ${callId}`} (or the close) on TCP from ${out.source}`);
    const failures: string[] = [];
    let rest = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      rest = Buffer.concat([rest, chunk]);
      while (failures.length === 0) {
        const end = rest.indexOf('\r\n\r\n');
        if (end < 0) break;
        let res: SipResponse;
        try {
          res = parseMessage(rest.subarray(0, end + 4)) as SipResponse;
        } catch (e) {
          failures.push(`unparseable answer: ${(e as Error).message}`);
          break;
        }
        const length = Number(res.get('content-length') ?? 0);
        if (rest.length < end + 4 + length) break;
        rest = rest.subarray(end + 4 + length);
        if (res.get('call-id') === f.callId) out.fenced = res.status === 200;
        else {
          out.all.push(res);
          if (callId === undefined || res.get('call-id') === callId) out.answers.push(res);
        }
      }
      ev.poke();
    });
    sock.on('close', () => {
      out.closed = true;
      ev.poke();
    });
    sock.write(data);
    if (expectAnswer) await ev.wait(() => out.answers.length > 0 || out.closed || failures.length > 0);
    if (!out.closed && failures.length === 0) {
      sock.write(f.data);
      await ev.wait(() => out.fenced || out.closed || failures.length > 0);
    }
    expect(failures).toEqual([]);
    return out;
  } finally {
    sock.destroy();
  }
}

describe.skipIf(!have)('RFC 4475 torture messages against a running server', () => {
  // A fresh server per message: the corpus reuses branch z9hG4bKkdjuw and sent-by across
  // messages, which one server would rightly take for retransmissions of one transaction.
  let app: SipApp;
  let port = 0;
  let decisions: (source: string) => Decision[];
  beforeEach(async () => {
    app = createTestServer().app;
    decisions = decisionLog(app);
    port = await listenUdpAndTcp(app, HOST);
  });
  afterEach(() => app.close());

  const cases: TortureCase[] = have ? tortureCases() : [];
  for (const c of cases) {
    const expected = EXPECTED_ANSWER[c.file];
    const via = topVia(c.data);
    it(`${c.file} over ${via.transport} → ${expected} (${c.expectation.slice(0, 60)})`, async () => {
      const out = via.transport === 'udp' ? await probeUdp(c.data, port, via.port, expected !== 'none') : await probeTcp(c.data, port, expected !== 'none');
      const [decision] = decisions(out.source);
      if (expected === 'none') {
        // The server took the message in and decided to stay silent (a response taken in, or a
        // message it dropped), and the fence proves no answer was on its way.
        expect(decision, `the server's decision on ${c.file}`).toBeDefined();
        expect(decision.kind === 'response' || (decision.kind === 'rejected' && decision.status === undefined), JSON.stringify(decision)).toBe(true);
        expect(out.fenced || out.closed).toBe(true);
        expect(out.all.map((a) => a.status)).toEqual([]);
        return;
      }
      expect(out.answers.length).toBeGreaterThan(0);
      expect(String(out.answers[0].status)).toBe(expected);
      if (c.file === 'bext01.dat') expect(out.answers[0].get('unsupported')).toBe('nothingSupportsThis, nothingSupportsThisEither');
      if (c.file === 'invut.dat' || c.file === 'sdp01.dat') expect(out.answers[0].get('accept')).toBe('application/sdp');
      if (c.file === 'dblreq.dat') {
        // The trailing INVITE must be ignored: after the fence, the 401 is still all that came back.
        expect(out.fenced).toBe(true);
        expect(out.all.map((a) => a.status)).toEqual([401]);
      }
      if (c.kind === 'valid') expect(out.answers[0].status).not.toBe(400);
    });
  }

  it('one server stays up through the whole corpus and still answers OPTIONS', async () => {
    for (const c of cases) {
      const via = topVia(c.data);
      // Only the fence is awaited here: this server rightly takes repeated branches for retransmissions.
      if (via.transport === 'udp') await probeUdp(c.data, port, via.port, false);
      else await probeTcp(c.data, port, false);
    }
    const stillThere = await probeUdp(Buffer.from(
      `OPTIONS sip:x@${HOST} SIP/2.0\r\nVia: SIP/2.0/UDP ${HOST}:5062;branch=z9hG4bKalive\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@${HOST}>\r\nCall-ID: alive\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`), port, 5062, true);
    expect(stillThere.answers[0]?.status).toBe(200);
  }, 60_000);
});
