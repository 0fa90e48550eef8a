import dgram from 'node:dgram';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SipResponse, parseMessage, type SipApp } from '../src/index.js';
import { RFC4475_DIR, corpusAvailable, tortureCases, type TortureCase, tcpExchange } from '@psi-lab/testkit';
import { createTestServer, listenUdpAndTcp } from './helpers/test-server.js';

/**
 * Server level: each RFC 4475 message sent over the transport its top Via names to a running
 * server built on the stack, and what comes back checked against EXPECTED.tsv. As the corpus
 * README requires, UDP probes are sent from 127.0.0.2 on the Via's port, so a compliant answer
 * (to the source address, RFC 3261 §18.2.2) comes back to the probe and nowhere else.
 */
const have = corpusAvailable(RFC4475_DIR);

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

async function sendUdp(data: Buffer, serverPort: number, fromPort: number, waitMs = 400): Promise<SipResponse[]> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(fromPort, '127.0.0.2', () => resolve()));
  const answers: SipResponse[] = [];
  // Only answers to this probe: an earlier INVITE's 486 is retransmitted (Timer G) to the same port.
  const callId = /^(?:call-id|i)[ \t]*:[ \t]*(\S+)/im.exec(data.toString('latin1'))?.[1];
  sock.on('message', (m) => {
    const res = parseMessage(m) as SipResponse;
    if (callId === undefined || res.get('call-id') === callId) answers.push(res);
  });
  sock.send(data, serverPort, '127.0.0.1');
  await new Promise((r) => setTimeout(r, waitMs));
  sock.close();
  return answers;
}

async function sendTcp(data: Buffer, serverPort: number, waitMs = 400): Promise<SipResponse[]> {
  const { text } = await tcpExchange(data, serverPort, { waitMs });
  const answers: SipResponse[] = [];
  let rest = Buffer.from(text, 'latin1');
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const m = parseMessage(rest.subarray(0, end + 4)) as SipResponse;
    answers.push(m);
    rest = rest.subarray(end + 4 + Number(m.get('content-length') ?? 0));
  }
  return answers;
}

describe.skipIf(!have)('RFC 4475 torture messages against a running server', () => {
  // A fresh server per message: the corpus reuses branch z9hG4bKkdjuw and sent-by across
  // messages, which one server would rightly take for retransmissions of one transaction.
  let app: SipApp;
  let port = 0;
  beforeEach(async () => {
    app = createTestServer().app;
    port = await listenUdpAndTcp(app);
  });
  afterEach(() => app.close());

  const cases: TortureCase[] = have ? tortureCases() : [];
  for (const c of cases) {
    const expected = EXPECTED_ANSWER[c.file];
    const via = topVia(c.data);
    it(`${c.file} over ${via.transport} → ${expected} (${c.expectation.slice(0, 60)})`, async () => {
      const answers = via.transport === 'udp' ? await sendUdp(c.data, port, via.port) : await sendTcp(c.data, port);
      if (expected === 'none') {
        expect(answers.map((a) => a.status)).toEqual([]);
        return;
      }
      expect(answers.length).toBeGreaterThan(0);
      expect(String(answers[0].status)).toBe(expected);
      if (c.file === 'bext01.dat') expect(answers[0].get('unsupported')).toBe('nothingSupportsThis, nothingSupportsThisEither');
      if (c.file === 'invut.dat' || c.file === 'sdp01.dat') expect(answers[0].get('accept')).toBe('application/sdp');
      if (c.file === 'dblreq.dat') expect(new Set(answers.map((a) => a.status))).toEqual(new Set([401]));
      if (c.kind === 'valid') expect(answers[0].status).not.toBe(400);
    });
  }

  it('one server stays up through the whole corpus and still answers OPTIONS', async () => {
    for (const c of cases) {
      const via = topVia(c.data);
      if (via.transport === 'udp') await sendUdp(c.data, port, via.port, 20);
      else await sendTcp(c.data, port, 20);
    }
    const stillThere = await sendUdp(Buffer.from(
      'OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5062;branch=z9hG4bKalive\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: alive\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n'), port, 5062);
    expect(stillThere[0]?.status).toBe(200);
  });
});
