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
import { leaseLoopbackAddress, testCertificates, tcpExchange, udpExchange, within } from '@psi-lab/testkit';

const certs = testCertificates();
/** The servers listen on free ports of 127.0.0.1 (their certificate names it); sources that must be told apart get addresses of this file's own. */
const PROBE_SOURCE = await leaseLoopbackAddress();
const CROWD_SOURCE = await leaseLoopbackAddress();
const BOUND_SOURCE = await leaseLoopbackAddress();
const BOUND_MS = 10_000;
const dir = mkdtempSync(join(tmpdir(), 'psi-sip-'));
const certFile = join(dir, 'server.pem');
const keyFile = join(dir, 'server.key');
const caFile = join(dir, 'ca.pem');
writeFileSync(certFile, certs.server.cert);
writeFileSync(keyFile, certs.server.key);
writeFileSync(caFile, certs.ca.cert);

/** The response to `req` on `layer`, whatever else arrives meanwhile (bounded). */
function responseTo(layer: TransportLayer, req: SipRequest): Promise<[SipResponse, Flow]> {
  return within(new Promise<[SipResponse, Flow]>((resolve) => {
    const on = (res: SipResponse, flow: Flow): void => {
      if (res.callId !== req.callId) return;
      layer.off('response', on);
      resolve([res, flow]);
    };
    layer.on('response', on);
  }), BOUND_MS, `the response to ${req.callId}`);
}

/** Send a CRLF ping on a raw socket; resolves with what came back: the pong, or '' when the socket closed first. */
function pingRaw(s: net.Socket): Promise<string> {
  return within(new Promise<string>((resolve) => {
    let got = '';
    const onData = (d: Buffer): void => {
      got += d.toString('latin1');
      if (got.length >= 2) finish();
    };
    const finish = (): void => {
      s.off('data', onData);
      s.off('close', finish);
      resolve(got);
    };
    s.on('data', onData);
    s.once('close', finish);
    if (s.destroyed) return finish();
    s.write('\r\n\r\n');
  }), BOUND_MS, 'a pong (or the close) after a CRLF ping');
}

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
      const got = responseTo(client, req);
      const flow = await client.send(req, { protocol, address: '127.0.0.1', port: ports[protocol], path: '/sip' });
      const [res, resFlow] = await got;
      expect(res.status).toBe(200);
      expect(res.callId).toBe(req.callId);
      expect(resFlow.protocol).toBe(protocol);
      if (protocol !== 'udp') expect(resFlow.id).toBe(flow.id);
      const last = seen.find((x) => x.req.callId === req.callId)!;
      expect(last, 'the server saw the request').toBeDefined();
      expect(last.flow.protocol).toBe(protocol);
      // RFC 3581: the server noted the source port in rport.
      expect(last.req.via.rport).toBe(last.flow.remote.port);
    });
  }

  it('reuses an open connection for the next request to the same peer', async () => {
    const first = options('tcp', '127.0.0.1:1');
    const second = options('tcp', '127.0.0.1:1');
    const answers = [responseTo(client, first), responseTo(client, second)];
    const a = await client.send(first, { protocol: 'tcp', address: '127.0.0.1', port: ports.tcp });
    const b = await client.send(second, { protocol: 'tcp', address: '127.0.0.1', port: ports.tcp });
    expect(b.id).toBe(a.id);
    // Both answered (so no answer is left over for another test), on that one connection.
    const [[ra, fa], [rb, fb]] = await Promise.all(answers);
    expect([ra.status, rb.status]).toEqual([200, 200]);
    expect([fa.id, fb.id]).toEqual([a.id, a.id]);
  });

  it('stamps received when the Via host is not the source, and answers UDP at the Via port without rport', async () => {
    const probe = Buffer.from(options('udp', 'nowhere.invalid:5999').toString().replace(';rport', ''));
    // Bind the probe on PROBE_SOURCE:5999 (an address of this file's own) so the Via port is where the answer must arrive.
    const answers = await udpExchange(probe, { address: '127.0.0.1', port: ports.udp }, { fromAddress: PROBE_SOURCE, fromPort: 5999, expect: 1 });
    expect(answers).toHaveLength(1);
    const res = parseMessage(answers[0]) as SipResponse;
    expect(res.via.received).toBe(PROBE_SOURCE);
  });

  it('answers a malformed UDP request with 400 and a Warning naming the defect', async () => {
    const bad = Buffer.from('INVITE sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx;rport\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: bad1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n');
    const answers = await udpExchange(bad, { address: '127.0.0.1', port: ports.udp }, { expect: 1 });
    expect(answers).toHaveLength(1);
    const res = parseMessage(answers[0]) as SipResponse;
    expect(res.status).toBe(400);
    expect(res.get('warning')).toMatch(/CSeq method OPTIONS differs from INVITE/);
  });

  it('answers a double-CRLF ping with a CRLF pong on TCP', async () => {
    const { text } = await tcpExchange('\r\n\r\n', ports.tcp, { until: (t) => t.length >= 2 });
    expect(text).toBe('\r\n');
  });

  it('answers a stream message with a bad Content-Length with 400, then closes', async () => {
    const msg = 'OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKy\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: cl1\r\nCSeq: 1 OPTIONS\r\nContent-Length: -5\r\n\r\n';
    // Waits (bounded) for the server to close the connection.
    const { text, closed } = await tcpExchange(msg, ports.tcp);
    expect(text).toMatch(/^SIP\/2\.0 400 /);
    expect(closed).toBe(true);
  });

  it('closes a stream that exceeds the 64 KiB message bound', async () => {
    const huge = `OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nX-Pad: ${'a'.repeat(70_000)}\r\n`;
    const { closed } = await tcpExchange(huge, ports.tcp);
    expect(closed).toBe(true);
  });

  it('refuses connections beyond the per-source bound', async () => {
    // From an address of this file's own, so nothing else counts against the bound.
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const s = net.connect({ port: ports.tcp, host: '127.0.0.1', localAddress: CROWD_SOURCE });
        s.on('error', () => undefined);
        sockets.push(s);
        await within(once(s, 'connect'), BOUND_MS, `connection ${i + 1} from ${CROWD_SOURCE}`);
      }
      // A pong on each proves the server took all 8 in (not merely the kernel): the bound is reached.
      expect(await Promise.all(sockets.map(pingRaw))).toEqual(Array(8).fill('\r\n'));
      const extra = net.connect({ port: ports.tcp, host: '127.0.0.1', localAddress: CROWD_SOURCE });
      extra.on('error', () => undefined);
      sockets.push(extra);
      await within(once(extra, 'close'), BOUND_MS, 'the server to refuse the ninth connection');
      // ...and the 8 are still served after the refusal.
      expect(await Promise.all(sockets.slice(0, 8).map(pingRaw))).toEqual(Array(8).fill('\r\n'));
    } finally {
      for (const s of sockets) s.destroy();
    }
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

  it('answers an upgrade to another path with 404 and closes, rather than holding the connection open', async () => {
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(`ws://127.0.0.1:${ports.ws}/other`, 'sip');
    const outcome = await within(new Promise<string>((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('error', (e) => resolve(e.message));
    }), BOUND_MS, 'an answer to the upgrade');
    expect(outcome).toMatch(/404/);
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
      const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${ports.tls}`, '-CAfile', caFile, '-verify_return_error', '-brief'], { timeout: 15_000 }, (_e, stdout, stderr) => resolve(stdout + stderr));
      child.stdin?.end('OPTIONS sip:x SIP/2.0\r\n\r\n');
    });
    expect(out).toMatch(/Verification: OK/);
    expect(out).toMatch(/Protocol version: TLSv1\.[23]/);
  }, 30_000);
});

describe('idle connections', () => {
  it('closes a stream with no traffic for idleTimeoutMs', async () => {
    const server = new TransportLayer({ idleTimeoutMs: 300 });
    const l = await server.listen({ protocol: 'tcp', port: 0 });
    // Taken before connecting: the server's idle timer starts when it accepts, after this.
    const t0 = Date.now();
    const s = net.connect(l.local.port, '127.0.0.1');
    await within(once(s, 'connect'), BOUND_MS, 'the connection');
    await within(once(s, 'close'), BOUND_MS, 'the server to close the idle connection');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
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
      await layer.listen({ protocol: 'tcp', host: BOUND_SOURCE, port: 0 });
      const req = new SipRequest('OPTIONS', 'sip:x@127.0.0.1', [['Via', `SIP/2.0/TCP ${BOUND_SOURCE};branch=${newBranch()}`], ['Call-ID', 'a'], ['CSeq', '1 OPTIONS'], ['From', '<sip:a@b>;tag=1'], ['To', '<sip:x@127.0.0.1>'], ['Max-Forwards', 70]]);
      await layer.send(req, { protocol: 'tcp', address: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
      expect(await within(seen, BOUND_MS, 'the connection')).toBe(BOUND_SOURCE);
    } finally {
      await layer.close();
      server.close();
    }
  });
});
