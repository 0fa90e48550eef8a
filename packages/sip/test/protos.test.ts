import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipParseError, SipRequest, StreamFramer, parseMessage, validateRequest, type Flow, type SipApp, type SipResponse } from '../src/index.js';
import { PROTOS_DIR, corpusAvailable, leaseLoopbackAddress, protosCaseFiles, tcpExchange, fillProtos, readProtosRecords, waitFor, within } from '@psi-lab/testkit';
import { createTestServer, listenUdpAndTcp } from './helpers/test-server.js';

/**
 * The 4,527 PROTOS c07-sip INVITE cases: against the parser, then against a running UDP and TCP
 * server built on the stack. No crash, no hang; a case the parser rejects is answered 400 (or
 * 416/505) when it names a sender, never processed; a case it accepts is processed (486 from the
 * test server); and a well-formed OPTIONS is answered after the last case.
 */
const have = corpusAvailable(PROTOS_DIR);
const UDP_MAX = 65_507;
const REJECT_STATUSES = [400, 416, 505, 513];
/** This file's own loopback address: the server, the probes and every address inside the cases. */
const HOST = await leaseLoopbackAddress();
const HOST_RE = HOST.replaceAll('.', '\\.');
/**
 * How long one TCP case may take to be decided and answered (the server answers within a few
 * ms, a few hundred on a busy machine): reaching it fails the test naming the case, and is never
 * taken for "no answer".
 */
const CASE_BOUND_MS = 10_000;
/** UDP: how many datagrams may be sent ahead of what the server has taken in (its socket buffer must hold them). */
const UDP_WINDOW = 32;

interface Case {
  n: number;
  invite: Buffer;
  teardown: Buffer | undefined;
  verdict: 'accepted' | 'rejected';
  /** The five headers a response is built from are all present and named correctly. */
  addressable: boolean;
}

function verdictOf(message: Buffer): Case['verdict'] {
  try {
    const m = parseMessage(message, { datagram: true });
    return m instanceof SipRequest && !validateRequest(m) ? 'accepted' : 'rejected';
  } catch (e) {
    if (!(e instanceof SipParseError)) throw e;
    return 'rejected';
  }
}

/**
 * On a stream, Content-Length frames the message: an INVITE declaring more body than it has
 * rightly swallows the teardown that follows. Judge what the stream's framing yields.
 */
function streamVerdict(payload: Buffer): Case['verdict'] | 'incomplete' {
  try {
    const first = new StreamFramer().push(payload).find((i) => i.kind === 'message');
    return first && first.kind === 'message' ? verdictOf(first.data) : 'incomplete';
  } catch {
    return 'rejected';
  }
}

function loadCases(localPort: number): Case[] {
  return protosCaseFiles().map((file) => {
    const n = Number(file);
    const [inv, down] = readProtosRecords(file);
    const invite = fillProtos(inv, { caseNumber: n, localPort, address: HOST });
    const teardown = down ? fillProtos(down, { caseNumber: n, localPort, address: HOST }) : undefined;
    let verdict: Case['verdict'] = 'accepted';
    if (invite.length > 65_536) verdict = 'rejected'; // over the stack's message bound: 513 or dropped
    else try {
      const m = parseMessage(invite, { datagram: true });
      if (!(m instanceof SipRequest) || validateRequest(m)) verdict = 'rejected';
    } catch (e) {
      if (!(e instanceof SipParseError)) throw new Error(`case ${n}: ${(e as Error).stack}`);
      verdict = 'rejected';
    }
    const head = invite.toString('latin1').split('\r\n\r\n')[0];
    // A 400 copies Via, From, To, Call-ID and CSeq: it can only be sent when they are all there
    // and the whole fits a datagram (over-long cases are cut off by the 64 KiB bound first).
    const lines = head.split('\r\n');
    const addressable = invite.length < 60_000 && ['Via', 'From', 'To', 'Call-ID', 'CSeq'].every((h) => lines.some((l) => l.startsWith(`${h}: `)));
    return { n, invite, teardown, verdict, addressable };
  });
}

/** Responses to INVITEs, by the case number in their Call-ID (when the case left it intact). */
function inviteAnswers(responses: SipResponse[]): Map<number, number[]> {
  const byCase = new Map<number, number[]>();
  for (const r of responses) {
    const m = new RegExp(`^protos-(\\d+)@${HOST_RE}$`).exec(r.get('call-id') ?? '');
    if (!m || !/\bINVITE$/.test(r.get('cseq') ?? '')) continue;
    const list = byCase.get(Number(m[1])) ?? [];
    list.push(r.status);
    byCase.set(Number(m[1]), list);
  }
  return byCase;
}

function intactCallId(c: Case): boolean {
  return c.invite.includes(`\r\nCall-ID: protos-${c.n}@${HOST}\r\n`) && /\r\nCSeq: 1 INVITE\r\n/.test(c.invite.toString('latin1'));
}

/**
 * `answersReachUs`: over UDP a well-formed Via whose port is not ours (a mangled one in the
 * via-host groups) rightly sends the answer elsewhere on loopback, where we can't see it.
 */
function checkAnswers(cases: Case[], answers: Map<number, number[]>, answersReachUs: (c: Case) => boolean = () => true): { processed: number; rejected: number; silent: number } {
  const tally = { processed: 0, rejected: 0, silent: 0 };
  for (const c of cases) {
    if (!intactCallId(c) || !answersReachUs(c)) continue;
    const got = answers.get(c.n) ?? [];
    if (c.verdict === 'accepted') {
      // Processed: 486 from the test server's handler, or the UAS core's 483 (Max-Forwards: 0),
      // 415 (a Content-Type it does not take)... anything but a parse rejection.
      expect(got.filter((s) => !REJECT_STATUSES.includes(s)), `case ${c.n} is well-formed and must be processed`).not.toEqual([]);
      tally.processed++;
    } else {
      expect(got.filter((s) => !REJECT_STATUSES.includes(s)), `case ${c.n} is malformed and must not be processed`).toEqual([]);
      if (got.length > 0) tally.rejected++;
      else {
        expect(c.addressable, `case ${c.n} names its sender but got no 400`).toBe(false);
        tally.silent++;
      }
    }
  }
  return tally;
}

const OPTIONS = (port: number, transport: string): Buffer => Buffer.from(
  `OPTIONS sip:receiver@${HOST} SIP/2.0\r\nVia: SIP/2.0/${transport} ${HOST}:${port};branch=z9hG4bKafter\r\nFrom: <sip:protos@${HOST}>;tag=1\r\nTo: <sip:receiver@${HOST}>\r\nCall-ID: after-last-case\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`);

/** A complete response head, and (when `inviteOnly`) one whose CSeq names INVITE. */
const COMPLETE_RESPONSE = /(?:^|\r\n\r\n)SIP\/2\.0 \d{3} [\s\S]*?\r\n\r\n/;
function hasAnswer(text: string, inviteOnly: boolean): boolean {
  for (const block of text.split(/(?=SIP\/2\.0 \d{3} )/)) {
    const end = block.indexOf('\r\n\r\n');
    if (!block.startsWith('SIP/2.0 ') || end < 0) continue;
    if (!inviteOnly || /\r\nCSeq[ \t]*:[^\r\n]*INVITE/i.test(block.slice(0, end + 2))) return true;
  }
  return false;
}

/**
 * One TCP connection per case, ended on what the server decided about the case's INVITE (its
 * transport's 'request' or 'rejected' event for that connection), never on a timer: a case the
 * server processed or answered ends when the answer to the INVITE has arrived; a case it dropped
 * (rejected, no status) ends at once; a connection the server closes ends at the close.
 * Hitting CASE_BOUND_MS throws, naming the case.
 */
function caseExchanger(app: SipApp, host: string, port: number): { exchange(n: number, payload: Buffer): Promise<string>; slowest(): number } {
  const decided = new Map<string, { processed: boolean; status?: number }>();
  const wake = new Map<string, () => void>();
  const note = (flow: Flow, d: { processed: boolean; status?: number }): void => {
    const key = `${flow.remote.address}:${flow.remote.port}`;
    if (flow.protocol !== 'tcp' || !wake.has(key) || decided.has(key)) return; // the first message of a case is its INVITE
    decided.set(key, d);
    wake.get(key)!();
  };
  app.transport.on('request', (_r, flow) => note(flow, { processed: true }));
  app.transport.on('rejected', (_e, flow, status) => note(flow, { processed: false, status }));
  let slowest = 0;
  const exchange = async (n: number, payload: Buffer): Promise<string> => {
    const sock = net.connect({ port, host, localAddress: host });
    sock.on('error', () => undefined); // a reset ends in 'close'
    await within(once(sock, 'connect'), CASE_BOUND_MS, `case ${n}: the connection to ${host}:${port}`);
    const key = `${sock.localAddress}:${sock.localPort}`;
    // Whether the answer to wait for can be told by its CSeq (the server copies the INVITE's CSeq).
    const inviteHead = payload.subarray(0, Math.max(0, payload.indexOf('\r\n\r\n'))).toString('latin1');
    const inviteCseq = /\r\nCSeq[ \t]*:[^\r\n]*INVITE/i.test(inviteHead);
    const t0 = performance.now();
    let text = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          const d = decided.get(key);
          reject(new Error(`case ${n}: ${d ? `decided ${JSON.stringify(d)} but no answer` : 'no decision'} within ${CASE_BOUND_MS} ms; received ${JSON.stringify(text.slice(0, 300))}`));
        }, CASE_BOUND_MS);
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        const check = (): void => {
          const d = decided.get(key);
          if (!d) return;
          if (!d.processed && d.status === undefined) return done(); // dropped: nothing will come
          if (hasAnswer(text, inviteCseq)) done();
        };
        wake.set(key, check);
        sock.on('data', (b: Buffer) => {
          text += b.toString('latin1');
          check();
        });
        sock.on('close', done);
        sock.write(payload);
      });
    } finally {
      slowest = Math.max(slowest, performance.now() - t0);
      wake.delete(key);
      decided.delete(key);
      sock.destroy();
    }
    return text;
  };
  return { exchange, slowest: () => slowest };
}

describe.skipIf(!have)('PROTOS c07-sip', () => {
  let app: SipApp;
  let serverPort = 0;
  beforeAll(async () => {
    app = createTestServer().app;
    serverPort = await listenUdpAndTcp(app, HOST);
  });
  afterAll(() => app.close());

  it('parser: all 4,527 cases parse or fail with a typed SipParseError', () => {
    const cases = loadCases(5060);
    expect(cases).toHaveLength(4527);
    const accepted = cases.filter((c) => c.verdict === 'accepted').length;
    console.log(`PROTOS parser: ${accepted} accepted, ${cases.length - accepted} rejected with a typed error`);
    expect(cases[0].verdict).toBe('accepted');
    expect(accepted).toBeGreaterThan(1000);
  });

  it('UDP server: every case sent, malformed ones answered 400 or dropped, then OPTIONS answered', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, HOST, () => resolve());
    });
    sock.setRecvBufferSize(8 * 1024 * 1024);
    const localPort = sock.address().port;
    const responses: SipResponse[] = [];
    let after: SipResponse | undefined;
    sock.on('message', (m) => {
      try {
        const r = parseMessage(m) as SipResponse;
        responses.push(r);
        if (r.get('call-id') === 'after-last-case') after = r;
      } catch {
        // our server never sends unparseable responses; the assertions below would show it
      }
    });
    const cases = loadCases(localPort);
    const before = app.transport.stats.received;
    const taken = (): number => app.transport.stats.received - before;
    let sent = 0;
    let datagrams = 0;
    for (const c of cases) {
      if (c.invite.length > UDP_MAX) continue;
      // Flow control instead of a lucky pace: never more than UDP_WINDOW datagrams ahead of what
      // the server took in, so no burst outgrows its socket buffer (a loss there is the kernel's, not our code's).
      if (datagrams - taken() >= UDP_WINDOW) {
        await waitFor(() => datagrams - taken() < UDP_WINDOW, 30_000, () => `the server to take in datagram ${datagrams - UDP_WINDOW + 1} (it took ${taken()} of ${datagrams} sent: lost?)`);
      }
      sock.send(c.invite, serverPort, HOST);
      datagrams++;
      if (c.teardown) {
        sock.send(c.teardown, serverPort, HOST);
        datagrams++;
      }
      sent++;
    }
    // The server reads its one socket in order and answers each message as it takes it, so the
    // OPTIONS' 200 coming back proves every earlier case was processed and answered.
    sock.send(OPTIONS(localPort, 'UDP'), serverPort, HOST);
    try {
      await waitFor(() => after !== undefined, 30_000, 'the 200 to the OPTIONS sent after the last case');
    } finally {
      sock.close();
    }
    expect(after?.status).toBe(200);
    expect(taken(), 'every datagram sent reached the server').toBe(datagrams + 1);
    const viaToUs = `\r\nVia: SIP/2.0/UDP ${HOST}:${localPort};branch=z9hG4bK`;
    const tally = checkAnswers(cases.filter((c) => c.invite.length <= UDP_MAX), inviteAnswers(responses), (c) => c.invite.includes(viaToUs));
    console.log(`PROTOS over UDP: ${sent} sent; ${tally.processed} processed, ${tally.rejected} answered 4xx/5xx, ${tally.silent} dropped (no sender named)`);
    expect(tally.processed).toBeGreaterThan(1000);
  }, 120_000);

  it('TCP server: every case on its own connection, then OPTIONS answered', async () => {
    const cases = loadCases(5060).flatMap((c) => {
      const verdict = streamVerdict(c.teardown ? Buffer.concat([c.invite, c.teardown]) : c.invite);
      return verdict === 'incomplete' ? [] : [{ ...c, verdict }];
    });
    const responses: SipResponse[] = [];
    const exchanger = caseExchanger(app, HOST, serverPort);
    const t0 = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < cases.length) {
        const c = cases[next++];
        const payload = c.teardown ? Buffer.concat([c.invite, c.teardown]) : c.invite;
        const text = await exchanger.exchange(c.n, payload);
        for (const block of text.split(/(?=SIP\/2\.0 \d{3} )/)) {
          try {
            responses.push(parseMessage(Buffer.from(block, 'latin1')) as SipResponse);
          } catch {
            // a block cut at the end: the INVITE's answer, which is what we check, came first
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const { text } = await tcpExchange(OPTIONS(5060, 'TCP'), serverPort, { host: HOST, until: (t) => COMPLETE_RESPONSE.test(t) });
    expect(text).toMatch(/^SIP\/2\.0 200 OK/);
    const tally = checkAnswers(cases, inviteAnswers(responses));
    console.log(`PROTOS over TCP: ${cases.length} connections in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${tally.processed} processed, ${tally.rejected} answered 4xx/5xx, ${tally.silent} dropped; slowest case decided and answered in ${exchanger.slowest().toFixed(0)} ms (bound ${CASE_BOUND_MS} ms)`);
    // Every client is gone: the server must let go of every connection (it notices each close in its own time).
    await waitFor(() => app.transport.stats.connections === 0, 30_000, () => `the server to close its connections (${app.transport.stats.connections} still open)`);
  }, 180_000);
});
