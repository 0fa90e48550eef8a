import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipParseError, SipRequest, StreamFramer, parseMessage, validateRequest, type SipApp, type SipResponse } from '../src/index.js';
import { PROTOS_DIR, corpusAvailable, protosCaseFiles, tcpExchange, fillProtos, readProtosRecords } from '@psi-lab/testkit';
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
    const invite = fillProtos(inv, { caseNumber: n, localPort });
    const teardown = down ? fillProtos(down, { caseNumber: n, localPort }) : undefined;
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
    const m = /^protos-(\d+)@127\.0\.0\.1$/.exec(r.get('call-id') ?? '');
    if (!m || !/\bINVITE$/.test(r.get('cseq') ?? '')) continue;
    const list = byCase.get(Number(m[1])) ?? [];
    list.push(r.status);
    byCase.set(Number(m[1]), list);
  }
  return byCase;
}

function intactCallId(c: Case): boolean {
  return c.invite.includes(`\r\nCall-ID: protos-${c.n}@127.0.0.1\r\n`) && /\r\nCSeq: 1 INVITE\r\n/.test(c.invite.toString('latin1'));
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
  `OPTIONS sip:receiver@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/${transport} 127.0.0.1:${port};branch=z9hG4bKafter\r\nFrom: <sip:protos@127.0.0.1>;tag=1\r\nTo: <sip:receiver@127.0.0.1>\r\nCall-ID: after-last-case\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`);

describe.skipIf(!have)('PROTOS c07-sip', () => {
  let app: SipApp;
  let serverPort = 0;
  beforeAll(async () => {
    app = createTestServer().app;
    serverPort = await listenUdpAndTcp(app);
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
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
    sock.setRecvBufferSize(8 * 1024 * 1024);
    const localPort = sock.address().port;
    const responses: SipResponse[] = [];
    sock.on('message', (m) => {
      try {
        responses.push(parseMessage(m) as SipResponse);
      } catch {
        // our server never sends unparseable responses; the assertions below would show it
      }
    });
    const cases = loadCases(localPort);
    let sent = 0;
    for (const c of cases) {
      if (c.invite.length > UDP_MAX) continue;
      sock.send(c.invite, serverPort, '127.0.0.1');
      if (c.teardown) sock.send(c.teardown, serverPort, '127.0.0.1');
      // Paced: a burst larger than the socket buffers would be lost in the kernel, not in our code.
      if (++sent % 20 === 0) await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 800));
    sock.send(OPTIONS(localPort, 'UDP'), serverPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 300));
    sock.close();
    const after = responses.find((r) => r.get('call-id') === 'after-last-case');
    expect(after?.status).toBe(200);
    const viaToUs = `\r\nVia: SIP/2.0/UDP 127.0.0.1:${localPort};branch=z9hG4bK`;
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
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < cases.length) {
        const c = cases[next++];
        const payload = c.teardown ? Buffer.concat([c.invite, c.teardown]) : c.invite;
        const { text } = await tcpExchange(payload, serverPort, { waitMs: 200, until: (t) => /CSeq: 1 INVITE\r\n[\s\S]*\r\n\r\n/.test(t) });
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
    const { text } = await tcpExchange(OPTIONS(5060, 'TCP'), serverPort, { until: (t) => t.includes('\r\n\r\n') });
    expect(text).toMatch(/^SIP\/2\.0 200 OK/);
    const tally = checkAnswers(cases, inviteAnswers(responses));
    console.log(`PROTOS over TCP: ${cases.length} connections; ${tally.processed} processed, ${tally.rejected} answered 4xx/5xx, ${tally.silent} dropped`);
    expect(app.transport.stats.connections).toBeLessThan(10);
  }, 180_000);
});
