import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipRequest, SipResponse, createResponse, newBranch, parseMessage } from '../src/message/index.js';
import { TransportLayer, type Flow, type TransportProtocol } from '../src/transport/index.js';
import { testCertificates, tcpExchange, udpExchange } from '@psi-lab/testkit';

const certs = testCertificates();
const dir = mkdtempSync(join(tmpdir(), 'psi-sip-'));
const certFile = join(dir, 'server.pem');
const keyFile = join(dir, 'server.key');
const caFile = join(dir, 'ca.pem');
writeFileSync(certFile, certs.server.cert);
writeFileSync(keyFile, certs.server.key);
writeFileSync(caFile, certs.ca.cert);

function options(protocol: TransportProtocol, sentBy: string): SipRequest {
  return new SipRequest('OPTIONS', 'sip:server@127.0.0.1', [
    ['Via', `SIP/2.0/${protocol.toUpperCase()} ${sentBy};branch=${newBranch()};rport`],
    ['Max-Forwards', 70],
    ['From', '<sip:client@127.0.0.1>;tag=abc'],
    ['To', '<sip:server@127.0.0.1>'],
    ['Call-ID', `${newBranch()}@test`],
    ['CSeq', '1 OPTIONS'],
  ]);
}

describe('TransportLayer over real sockets', () => {
  const server = new TransportLayer({ idleTimeoutMs: 60_000, maxConnectionsPerSource: 8 });
  const client = new TransportLayer({ tlsClient: { caFile } });
  const ports: Record<string, number> = {};
  const seen: Array<{ req: SipRequest; flow: Flow }> = [];

  beforeAll(async () => {
    for (const protocol of ['udp', 'tcp', 'tls', 'ws', 'wss'] as const) {
      const l = await server.listen({ protocol, port: 0, tls: { certFile, keyFile }, path: protocol.startsWith('ws') ? '/sip' : undefined });
      ports[protocol] = l.local.port;
    }
    await client.listen({ protocol: 'udp', port: 0 });
    server.on('request', (req, flow) => {
      seen.push({ req, flow });
      void server.sendResponse(createResponse(req, 200, { toTag: 'srv' }), flow);
    });
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  for (const protocol of ['udp', 'tcp', 'tls', 'ws', 'wss'] as const) {
    it(`answers over ${protocol} on the flow the request came in on`, async () => {
      const sentBy = client.sentBy(protocol);
      const req = options(protocol, `${sentBy.address}:${sentBy.port}`);
      const got = once(client, 'response');
      const flow = await client.send(req, { protocol, address: '127.0.0.1', port: ports[protocol], path: '/sip' });
      const [res, resFlow] = (await got) as [SipResponse, Flow];
      expect(res.status).toBe(200);
      expect(res.callId).toBe(req.callId);
      expect(resFlow.protocol).toBe(protocol);
      if (protocol !== 'udp') expect(resFlow.id).toBe(flow.id);
      const last = seen[seen.length - 1];
      expect(last.flow.protocol).toBe(protocol);
      // RFC 3581: the server noted the source port in rport.
      expect(last.req.via.rport).toBe(last.flow.remote.port);
    });
  }

  it('reuses an open connection for the next request to the same peer', async () => {
    const a = await client.send(options('tcp', '127.0.0.1:1'), { protocol: 'tcp', address: '127.0.0.1', port: ports.tcp });
    const b = await client.send(options('tcp', '127.0.0.1:1'), { protocol: 'tcp', address: '127.0.0.1', port: ports.tcp });
    expect(b.id).toBe(a.id);
  });

  it('stamps received when the Via host is not the source, and answers UDP at the Via port without rport', async () => {
    const probe = Buffer.from(options('udp', 'nowhere.invalid:5999').toString().replace(';rport', ''));
    // Bind the probe on 127.0.0.3:5999 so the Via port is where the answer must arrive.
    const answers = await udpExchange(probe, { address: '127.0.0.1', port: ports.udp }, { fromAddress: '127.0.0.3', fromPort: 5999, expect: 1 });
    expect(answers).toHaveLength(1);
    const res = parseMessage(answers[0]) as SipResponse;
    expect(res.via.received).toBe('127.0.0.3');
  });

  it('answers a malformed UDP request with 400 and a Warning naming the defect', async () => {
    const bad = Buffer.from('INVITE sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx;rport\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: bad1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n');
    const answers = await udpExchange(bad, { address: '127.0.0.1', port: ports.udp }, { expect: 1 });
    const res = parseMessage(answers[0]) as SipResponse;
    expect(res.status).toBe(400);
    expect(res.get('warning')).toMatch(/CSeq method OPTIONS differs from INVITE/);
  });

  it('answers a double-CRLF ping with a CRLF pong on TCP', async () => {
    const { text } = await tcpExchange('\r\n\r\n', ports.tcp, { until: (t) => t.length >= 2, waitMs: 1000 });
    expect(text).toBe('\r\n');
  });

  it('answers a stream message with a bad Content-Length with 400, then closes', async () => {
    const msg = 'OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKy\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: cl1\r\nCSeq: 1 OPTIONS\r\nContent-Length: -5\r\n\r\n';
    const { text, closed } = await tcpExchange(msg, ports.tcp, { waitMs: 4000 });
    expect(text).toMatch(/^SIP\/2\.0 400 /);
    expect(closed).toBe(true);
  });

  it('closes a stream that exceeds the 64 KiB message bound', async () => {
    const huge = `OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nX-Pad: ${'a'.repeat(70_000)}\r\n`;
    const { closed } = await tcpExchange(huge, ports.tcp, { waitMs: 4000 });
    expect(closed).toBe(true);
  });

  it('refuses connections beyond the per-source bound', async () => {
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 8; i++) {
      const s = net.connect({ port: ports.tcp, host: '127.0.0.1', localAddress: '127.0.0.5' });
      await once(s, 'connect');
      sockets.push(s);
    }
    await new Promise((r) => setTimeout(r, 100));
    const extra = net.connect({ port: ports.tcp, host: '127.0.0.1', localAddress: '127.0.0.5' });
    extra.on('error', () => undefined);
    await once(extra, 'close');
    const stillOpen = sockets.filter((s) => !s.destroyed).length;
    for (const s of sockets) s.destroy();
    expect(stillOpen).toBe(8);
  });

  it('refuses a WebSocket upgrade that does not offer the sip subprotocol (RFC 7118)', async () => {
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(`ws://127.0.0.1:${ports.ws}/sip`, 'chat');
    const outcome = await new Promise<string>((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('error', (e) => resolve(e.message));
    });
    expect(outcome).toMatch(/400/);
  });

  it('refuses TLS older than 1.2', async () => {
    const s = tls.connect({ port: ports.tls, host: '127.0.0.1', ca: certs.ca.cert, maxVersion: 'TLSv1.1', minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
    const result = await new Promise<string>((resolve) => {
      s.once('secureConnect', () => resolve('connected'));
      s.once('error', () => resolve('refused'));
    });
    s.destroy();
    expect(result).toBe('refused');
  });

  it('passes an openssl s_client check: TLS 1.2+, the lab CA verifies the certificate', async () => {
    const out = await new Promise<string>((resolve) => {
      const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${ports.tls}`, '-CAfile', caFile, '-verify_return_error', '-brief'], { timeout: 5000 }, (_e, stdout, stderr) => resolve(stdout + stderr));
      child.stdin?.end('OPTIONS sip:x SIP/2.0\r\n\r\n');
    });
    expect(out).toMatch(/Verification: OK/);
    expect(out).toMatch(/Protocol version: TLSv1\.[23]/);
  });
});

describe('idle connections', () => {
  it('closes a stream with no traffic for idleTimeoutMs', async () => {
    const server = new TransportLayer({ idleTimeoutMs: 300 });
    const l = await server.listen({ protocol: 'tcp', port: 0 });
    const s = net.connect(l.local.port, '127.0.0.1');
    await once(s, 'connect');
    const t0 = Date.now();
    await once(s, 'close');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(server.stats.connections).toBe(0);
    await server.close();
  });
});

describe('TransportLayer addresses', () => {
  it('advertises the configured address in Via when its listener is bound to 0.0.0.0', async () => {
    const layer = new TransportLayer({ advertisedAddress: '127.0.0.1' });
    try {
      const l = await layer.listen({ protocol: 'udp', host: '0.0.0.0', port: 0 });
      expect(layer.sentBy('udp')).toEqual({ address: '127.0.0.1', port: l.local.port });
    } finally {
      await layer.close();
    }
  });

  it('connects from the address its listeners are bound to, so a source filter sees that address', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const seen = new Promise<string | undefined>((r) => server.once('connection', (s) => {
      r(s.remoteAddress);
      s.destroy();
    }));
    const layer = new TransportLayer();
    try {
      await layer.listen({ protocol: 'tcp', host: '127.0.0.27', port: 0 });
      const req = new SipRequest('OPTIONS', 'sip:x@127.0.0.1', [['Via', `SIP/2.0/TCP 127.0.0.27;branch=${newBranch()}`], ['Call-ID', 'a'], ['CSeq', '1 OPTIONS'], ['From', '<sip:a@b>;tag=1'], ['To', '<sip:x@127.0.0.1>'], ['Max-Forwards', 70]]);
      await layer.send(req, { protocol: 'tcp', address: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
      expect(await seen).toBe('127.0.0.27');
    } finally {
      await layer.close();
      server.close();
    }
  });
});
