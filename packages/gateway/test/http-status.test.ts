import { request } from 'node:https';
import { Writable } from 'node:stream';
import { createCa, createServerCertificate, type PemPair } from '@psi-lab/pki';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createStatusRequestHandler, startHttpsServer, type HttpsServer, type StatusRoutesOptions } from '../src/http/index.js';
import { COUNTER_HELP, type GatewayCounters, type GatewayStatus } from '../src/status/types.js';

const HOSTILE_USER_AGENT = '<script>alert("pwned")</script> & friends';
const STARTED_AT_MS = Date.parse('2025-03-01T08:00:00.000Z');
/** 1 h 2 min 3.5 s after the start: what the injected clock says. */
const NOW_MS = STARTED_AT_MS + 3_723_500;

let ca: PemPair;
let server: PemPair;
let running: HttpsServer | undefined;
const TOKEN = 'admin-token-for-the-status-tests';

beforeAll(() => {
  ca = createCa('http-status test CA');
  server = createServerCertificate(ca);
});

afterEach(async () => {
  await running?.close();
  running = undefined;
});

function sampleStatus(): GatewayStatus {
  const counters = Object.fromEntries(Object.keys(COUNTER_HELP).map((name, i) => [name, 100 + i])) as unknown as GatewayCounters;
  return {
    startedAt: new Date(STARTED_AT_MS).toISOString(),
    listeners: [
      { protocol: 'tls', address: '127.0.0.1', port: 5061 },
      { protocol: 'wss', address: '127.0.0.1', port: 8443, path: '/sip' },
    ],
    pbx: { target: '127.0.0.1:5070/tcp', credentials: 42, credentialsRefreshedAt: '2025-03-01T08:59:00.000Z', credentialsError: 'pbx said <503>' },
    certificate: { subject: 'CN=localhost, O=psi-lab', validTo: '2027-06-01T00:00:00.000Z', fingerprint256: 'AB:CD:EF', loadedAt: '2025-03-01T08:00:00.000Z' },
    registrations: [
      { user: '1001', device: 'Yealink SIP-T54W 96.86.0.70', transport: 'TLS', source: '127.0.0.1:40001', since: '2025-03-01T08:10:00.000Z', expires: '2025-03-01T09:10:00.000Z' },
      { user: '1002', device: HOSTILE_USER_AGENT, transport: 'tls', source: '127.0.0.1:40002', since: '2025-03-01T08:11:00.000Z', expires: '2025-03-01T09:11:00.000Z' },
      { user: '1003', device: 'PSI web set', transport: 'wss', source: '127.0.0.1:40003', since: '2025-03-01T08:12:00.000Z', expires: '2025-03-01T09:12:00.000Z' },
    ],
    calls: [
      { user: '1001', direction: 'outgoing', peer: '1002', state: 'connected', since: '2025-03-01T08:40:00.000Z', media: { fromSet: 1500, toSet: 1498, refused: 0 } },
      {
        user: '1003', direction: 'incoming', peer: '1001', state: 'connected', since: '2025-03-01T08:41:00.000Z', media: { fromSet: 0, toSet: 900, refused: 880 },
        warning: 'the set\'s media comes from 127.0.0.5, not from its signalling address 127.0.0.1: all dropped',
      },
    ],
    blocks: [
      { kind: 'user', value: '<img src=x onerror=alert(1)>', reason: 'authentication-failures', count: 10, since: '2025-03-01T08:20:00.000Z', until: '2025-03-01T08:30:00.000Z' },
      { kind: 'source', value: '127.0.0.9', reason: 'flood', count: 2000, since: '2025-03-01T08:21:00.000Z', until: '2025-03-01T08:31:00.000Z' },
    ],
    counters,
  };
}

/** The admin server as the gateway starts it: its routes behind the token, on HTTPS. */
async function start(options: Partial<StatusRoutesOptions> = {}): Promise<HttpsServer> {
  running = await startHttpsServer({
    name: 'admin server', host: '127.0.0.1', port: 0, tls: server, maxConnectionsPerSource: 64, logger: options.logger,
    onRequest: createStatusRequestHandler({ status: sampleStatus, now: () => NOW_MS, adminToken: TOKEN, ...options }),
  });
  return running;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with the admin token, unless `headers` says otherwise. */
function fetchFrom(port: number, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers = options.headers ?? { authorization: `Bearer ${TOKEN}` };
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers, ca: ca.cert, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function expectJson(answer: Answer): unknown {
  expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
  return JSON.parse(answer.body);
}

describe('status server routes', () => {
  it('answers /healthz with {"status":"ok"}', async () => {
    const { port } = await start();
    const answer = await fetchFrom(port, '/healthz');
    expect(answer.status).toBe(200);
    expect(expectJson(answer)).toEqual({ status: 'ok' });
  });

  it('serves the whole status and its parts as JSON', async () => {
    const { port } = await start();
    const expected = sampleStatus();
    expect(expectJson(await fetchFrom(port, '/api/status'))).toEqual(expected);
    expect(expectJson(await fetchFrom(port, '/api/registrations'))).toEqual(expected.registrations);
    expect(expectJson(await fetchFrom(port, '/api/calls'))).toEqual(expected.calls);
    expect(expectJson(await fetchFrom(port, '/api/blocks'))).toEqual(expected.blocks);
    expect(expectJson(await fetchFrom(port, '/api/counters?ignored=1'))).toEqual(expected.counters);
  });

  it('renders the status page with every section and escapes what attackers sent', async () => {
    const { port } = await start();
    const answer = await fetchFrom(port, '/');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(answer.headers['content-security-policy']).toBe("default-src 'none'; style-src 'unsafe-inline'");
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    const html = answer.body;
    expect(html).toContain('<meta http-equiv="refresh" content="10">');
    // The hostile User-Agent and block value appear only escaped.
    expect(html).not.toMatch(/<script|<img/i);
    expect(html).toContain('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; friends');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('pbx said &lt;503&gt;');
    for (const text of ['1h 2m 3s', '2025-03-01T08:00:00.000Z', '127.0.0.1:5070/tcp', '42', 'CN=localhost, O=psi-lab', '2027-06-01T00:00:00.000Z', 'AB:CD:EF', '/sip']) {
      expect(html).toContain(text);
    }
    const headerRows = [...html.matchAll(/<thead><tr>(.*?)<\/tr><\/thead>/g)].map((m) => [...m[1].matchAll(/<th>(.*?)<\/th>/g)].map((c) => c[1]));
    expect(headerRows).toContainEqual(['User', 'Device', 'Transport', 'Source', 'Since', 'Expires']);
    expect(headerRows).toContainEqual(['Kind', 'Value', 'Reason', 'Count', 'Since', 'Until']);
    expect(headerRows).toContainEqual(['User', 'Direction', 'Peer', 'State', 'Since', 'RTP from set', 'RTP to set', 'Refused', 'Media']);
    // A call without media from its set stands out, with why.
    expect(html).toContain('<td>1003</td><td>incoming</td><td>1001</td><td>connected</td><td>2025-03-01T08:41:00.000Z</td><td class="num">0</td><td class="num">900</td><td class="num">880</td><td><span class="error">the set&#39;s media comes from 127.0.0.5, not from its signalling address 127.0.0.1: all dropped</span></td>');
    expect(html).toContain('<td class="num">1498</td><td class="num">0</td><td>ok</td>');
    expect(html).toContain('<td>1003</td><td>PSI web set</td><td>wss</td><td>127.0.0.1:40003</td><td>2025-03-01T08:12:00.000Z</td><td>2025-03-01T09:12:00.000Z</td>');
    for (const [name, { help }] of Object.entries(COUNTER_HELP)) {
      expect(html).toContain(`<td>${name}</td><td class="num">${sampleStatus().counters[name as keyof GatewayCounters]}</td><td>${help}</td>`);
    }
  });

  it('exports Prometheus text format with HELP, TYPE and matching values', async () => {
    const { port } = await start();
    const answer = await fetchFrom(port, '/metrics');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(answer.body.endsWith('\n')).toBe(true);
    const help = new Map<string, string>();
    const type = new Map<string, string>();
    const samples = new Map<string, number>();
    for (const line of answer.body.trimEnd().split('\n')) {
      let m: RegExpExecArray | null;
      if ((m = /^# HELP (\w+) (.+)$/.exec(line))) help.set(m[1], m[2]);
      else if ((m = /^# TYPE (\w+) (counter|gauge)$/.exec(line))) type.set(m[1], m[2]);
      else if ((m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line))) {
        // Every sample comes after its family's HELP and TYPE.
        expect(help.has(m[1]) && type.has(m[1]), `HELP/TYPE before ${line}`).toBe(true);
        samples.set(m[1] + (m[2] ?? ''), Number(m[3]));
      } else throw new Error(`not a Prometheus text line: ${line}`);
    }
    const counters = sampleStatus().counters;
    const expectedNames: Record<keyof GatewayCounters, string> = {
      requests: 'psi_gateway_requests_total', challenges: 'psi_gateway_challenges_total', authFailures: 'psi_gateway_auth_failures_total',
      dropped: 'psi_gateway_dropped_total', scannersDropped: 'psi_gateway_scanners_dropped_total', blocksActive: 'psi_gateway_blocks_active',
      blocksTotal: 'psi_gateway_blocks_total', registrations: 'psi_gateway_registrations', connections: 'psi_gateway_connections',
      callsActive: 'psi_gateway_calls_active', callsTotal: 'psi_gateway_calls_total', keepaliveFailures: 'psi_gateway_keepalive_failures_total',
      rtpPackets: 'psi_gateway_rtp_packets_total', rtpBytes: 'psi_gateway_rtp_bytes_total', malformed: 'psi_gateway_malformed_total',
      callsMediaRefused: 'psi_gateway_calls_media_refused_total',
      serverTransactions: 'psi_gateway_server_transactions',
    };
    for (const [counter, name] of Object.entries(expectedNames) as Array<[keyof GatewayCounters, string]>) {
      expect(help.get(name)).toBe(COUNTER_HELP[counter].help);
      expect(type.get(name)).toBe(COUNTER_HELP[counter].type);
      expect(samples.get(name)).toBe(counters[counter]);
    }
    expect(type.get('psi_gateway_registrations_by_transport')).toBe('gauge');
    expect(samples.get('psi_gateway_registrations_by_transport{transport="tls"}')).toBe(2);
    expect(samples.get('psi_gateway_registrations_by_transport{transport="wss"}')).toBe(1);
    expect(samples.get('psi_gateway_registrations_by_transport{transport="udp"}')).toBe(0);
    expect(type.get('psi_gateway_uptime_seconds')).toBe('gauge');
    expect(samples.get('psi_gateway_uptime_seconds')).toBe(3723.5);
  });

  it('answers unknown paths 404 and wrong methods 405 with Allow', async () => {
    const { port } = await start();
    const missing = await fetchFrom(port, '/nowhere');
    expect(missing.status).toBe(404);
    expect(expectJson(missing)).toEqual({ error: 'not-found', message: expect.stringContaining('/nowhere') });
    const post = await fetchFrom(port, '/api/status', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect(expectJson(post)).toMatchObject({ error: 'method-not-allowed' });
    const getOnDelete = await fetchFrom(port, '/api/blocks/source/127.0.0.9');
    expect(getOnDelete.status).toBe(405);
    expect(getOnDelete.headers.allow).toBe('DELETE');
  });

  it('lifts blocks by URL-decoded kind and value, 404 when nothing was blocked', async () => {
    const unblock = vi.fn((kind: string, value: string) => kind === 'user' && value === 'alice/1001 (x)');
    const { port } = await start({ unblock });
    const lifted = await fetchFrom(port, '/api/blocks/user/alice%2F1001%20(x)', { method: 'DELETE' });
    expect(lifted.status).toBe(200);
    expect(expectJson(lifted)).toEqual({ unblocked: { kind: 'user', value: 'alice/1001 (x)' } });
    expect(unblock).toHaveBeenCalledWith('user', 'alice/1001 (x)');
    const notBlocked = await fetchFrom(port, '/api/blocks/source/127.0.0.8', { method: 'DELETE' });
    expect(notBlocked.status).toBe(404);
    expect(expectJson(notBlocked)).toMatchObject({ error: 'not-blocked' });
    expect((await fetchFrom(port, '/api/blocks/nonsense/x', { method: 'DELETE' })).status).toBe(400);
    expect((await fetchFrom(port, '/api/blocks/source/%E0%A4%A', { method: 'DELETE' })).status).toBe(400);
    expect(unblock).toHaveBeenCalledTimes(2);
  });

  it('answers 501 to DELETE when the gateway gave no unblock', async () => {
    const { port } = await start();
    const answer = await fetchFrom(port, '/api/blocks/source/127.0.0.9', { method: 'DELETE' });
    expect(answer.status).toBe(501);
    expect(expectJson(answer)).toMatchObject({ error: 'not-implemented' });
  });

  it('wants the admin token on every route but /healthz: /, /api/*, /metrics, unknown paths', async () => {
    const { port } = await start();
    for (const path of ['/', '/api/status', '/api/counters', '/metrics', '/nowhere']) {
      const refused = await fetchFrom(port, path, { headers: {} });
      expect(refused.status, path).toBe(401);
      expect(refused.headers['www-authenticate']).toMatch(/^Basic realm="psi-lab gateway admin"/);
      expect(expectJson(refused)).toMatchObject({ error: 'unauthorized' });
    }
    const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    expect((await fetchFrom(port, '/api/status', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetchFrom(port, '/api/status', { headers: { authorization: basic(TOKEN, 'wrong') } })).status).toBe(401);
    expect((await fetchFrom(port, '/api/status', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetchFrom(port, '/', { headers: { authorization: basic('anyone', TOKEN) } })).status).toBe(200);
    expect((await fetchFrom(port, '/api/blocks/source/x', { method: 'DELETE', headers: {} })).status).toBe(401);
    expect((await fetchFrom(port, '/healthz', { headers: {} })).status).toBe(200);
  });

  it('locks out an address that keeps guessing the token: after 10 wrong ones even the right token gets 429', async () => {
    const { port } = await start();
    for (let i = 0; i < 10; i++) expect((await fetchFrom(port, '/api/status', { headers: { authorization: `Bearer guess-${i}` } })).status).toBe(401);
    const locked = await fetchFrom(port, '/api/status');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(3500);
    expect(expectJson(locked)).toMatchObject({ error: 'too-many-failures' });
    // Asking without any credential is not a guess, and the health check stays open.
    expect((await fetchFrom(port, '/healthz', { headers: {} })).status).toBe(200);
  });

  it('refuses to start without a token: administration is never anonymous', () => {
    expect(() => createStatusRequestHandler({ status: sampleStatus, now: () => NOW_MS, adminToken: '' })).toThrow(/never anonymous/);
  });

  it('answers 500 and logs when status() throws, and keeps serving', async () => {
    const logLines: string[] = [];
    const logger = pino({ level: 'error' }, new Writable({ write(chunk, _encoding, done) { logLines.push(String(chunk)); done(); } }));
    const { port } = await start({ logger, status: () => { throw new Error('snapshot exploded'); } });
    for (const path of ['/', '/api/status', '/metrics']) {
      const answer = await fetchFrom(port, path);
      expect(answer.status, path).toBe(500);
      expect(expectJson(answer)).toEqual({ error: 'internal', message: expect.any(String) });
      expect(answer.body).not.toContain('snapshot exploded');
    }
    expect(logLines).toHaveLength(3);
    expect(logLines[0]).toContain('snapshot exploded');
    expect((await fetchFrom(port, '/healthz')).status).toBe(200);
  });
});
