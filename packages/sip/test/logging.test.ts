import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { SipApp } from '../src/index.js';
import { udpExchange } from '@psi-lab/testkit';

function capture(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { chunks.push(String(chunk)); cb(); } });
  const logger = pino({ level: 'debug' }, stream);
  return { logger, lines: () => chunks.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logging', () => {
  it('traces every SIP message as one JSON line when sipTrace is on, and names a defect', async () => {
    const { logger, lines } = capture();
    const app = new SipApp({ logger, sipTrace: true });
    const { local } = await app.listen({ protocol: 'udp', port: 0 });
    const options = 'OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKlog;rport\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: traced\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\r\n';
    // Each resolves on its answer (rejecting, with a message, after 10 s without one).
    const ok = await udpExchange(Buffer.from(options), local, { expect: 1 });
    const bad = await udpExchange(Buffer.from(options.replace('1 OPTIONS', '1 INVITE').replace('traced', 'bad')), local, { expect: 1 });
    expect(ok).toHaveLength(1);
    expect(ok[0].toString('latin1')).toMatch(/^SIP\/2\.0 200 /);
    expect(bad).toHaveLength(1);
    expect(bad[0].toString('latin1')).toMatch(/^SIP\/2\.0 400 /);
    await app.close();
    const all = lines();
    expect(all.find((l) => l.dir === 'in' && String(l.sip).includes('Call-ID: traced'))).toBeDefined();
    expect(all.find((l) => l.dir === 'out' && String(l.sip).startsWith('SIP/2.0 200 OK'))).toBeDefined();
    const defect = all.find((l) => l.msg === 'malformed SIP message');
    expect(defect?.error).toMatch(/CSeq method INVITE differs from OPTIONS/);
    expect(defect?.answered).toBe(400);
  });
});
