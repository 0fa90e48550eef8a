import dgram from 'node:dgram';
import https from 'node:https';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayConfig } from '../src/index.js';
import { startGatewayLab, USERS, type GatewayLab } from './helpers/gateway-lab.js';
import { TestSet, waitFor } from './helpers/test-set.js';

const HOST = '127.0.0.23';
/** The access-list labs: another address, so their fixed ports never meet the main lab's. */
const ACCESS_HOST = '127.0.0.25';
/** Test sockets are bound here (unless a test names another address), so blocks land on it. */
const SOURCE = '127.0.0.1';
/** What TestSet's SIP stack sends as User-Agent (the @psi-lab/sip default). */
const TEST_SET_USER_AGENT = 'psi-lab';
/**
 * Time given to an answer that should not come, once the gateway has visibly dropped the
 * request: the drop happens before anything could be sent, so this only catches a stray answer.
 */
const SILENCE_MS = 250;

/** A bare UDP socket speaking hand-written SIP: it never retransmits and keeps every answer. */
class RawUdpSet {
  readonly answers: string[] = [];
  private sequence = 0;

  private constructor(private readonly socket: dgram.Socket, private readonly target: { host: string; port: number }) {
    socket.on('message', (data) => this.answers.push(data.toString('utf8')));
  }

  static async open(target: { host: string; port: number }, bindTo = SOURCE): Promise<RawUdpSet> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, bindTo, () => resolve());
    });
    return new RawUdpSet(socket, target);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get statuses(): number[] {
    return this.answers.map((a) => Number(/^SIP\/2\.0 (\d{3})/.exec(a)?.[1]));
  }

  /** A request addressed to the gateway; `cseqMethod` other than `method` makes it malformed. */
  request(method: string, options: { userAgent?: string; cseqMethod?: string; uri?: string } = {}): string {
    const n = ++this.sequence;
    const local = this.socket.address();
    return [
      `${method} ${options.uri ?? `sip:${this.target.host}`} SIP/2.0`,
      `Via: SIP/2.0/UDP ${local.address}:${local.port};branch=z9hG4bK-raw-${local.port}-${n};rport`,
      'Max-Forwards: 70',
      `From: <sip:raw@${local.address}>;tag=raw${n}`,
      `To: <sip:${this.target.host}>`,
      `Call-ID: raw-${local.port}-${n}@${local.address}`,
      `CSeq: ${n} ${options.cseqMethod ?? method}`,
      ...(options.userAgent ? [`User-Agent: ${options.userAgent}`] : []),
      'Content-Length: 0', '', '',
    ].join('\r\n');
  }

  send(text: string): void {
    this.socket.send(Buffer.from(text, 'utf8'), this.target.port, this.target.host);
  }

  /** Sends one request and waits for its final answer; returns the status. */
  async ask(text: string, timeoutMs = 3000): Promise<number> {
    const before = this.answers.length;
    this.send(text);
    await waitFor(() => this.answers.length > before, timeoutMs, 'an answer from the gateway');
    return this.statuses[before];
  }

  close(): void {
    this.socket.close();
  }
}

/** One HTTPS request to the gateway's status server, trusting the lab's CA. */
function api(lab: GatewayLab, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: lab.host, port: 8443, method, path, ca: lab.ca, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The unlabelled samples of a Prometheus text exposition, by metric name. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const sample = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (sample) samples.set(sample[1], Number(sample[2]));
  }
  return samples;
}

/** Waits until the gateway has dropped one more message, then a moment more for a stray answer. */
async function expectDroppedUnanswered(lab: GatewayLab, raw: RawUdpSet, text: string, counter: 'dropped' | 'scannersDropped' = 'dropped'): Promise<void> {
  const before = lab.gateway.status().counters[counter];
  const answers = raw.answers.length;
  raw.send(text);
  await waitFor(() => lab.gateway.status().counters[counter] > before, 3000, `counters.${counter} to grow`);
  await new Promise((r) => setTimeout(r, SILENCE_MS));
  expect(raw.answers.slice(answers)).toEqual([]);
}

const password = (user: string): string => USERS.find((u) => u.extension === user)!.password;

describe('gateway security (source blocking, scanners, floods, malformed SIP)', () => {
  let lab: GatewayLab;
  const sets: TestSet[] = [];
  const raws: RawUdpSet[] = [];
  const newSet = async (user: string, protocol: 'udp' | 'tcp', pass = password(user)): Promise<TestSet> => {
    const set = await new TestSet({ user, password: pass, protocol, host: HOST, port: 5060 }).start();
    sets.push(set);
    return set;
  };
  const newRaw = async (): Promise<RawUdpSet> => {
    const raw = await RawUdpSet.open({ host: HOST, port: 5060 });
    raws.push(raw);
    return raw;
  };

  beforeAll(async () => {
    lab = await startGatewayLab(HOST, {
      media: { portMin: 42400, portMax: 42499 },
      // A long window: the limits are reached by count, never by how fast this machine is.
      security: { maxAuthFailures: 3, maxRequestsPerWindow: 20, windowSeconds: 60 },
    });
  }, 60_000);
  afterEach(() => {
    // Every test comes from the same address: each starts with a clean slate.
    lab.gateway.blocker.unblock('source', SOURCE);
    lab.gateway.blocker.unblock('user-agent', TEST_SET_USER_AGENT);
  });
  afterAll(async () => {
    for (const s of sets) await s.close();
    for (const r of raws) r.close();
    await lab?.close();
  });

  it('blocks a source after maxAuthFailures wrong passwords, and the HTTPS API lifts the block', async () => {
    const raw = await newRaw();
    expect(await raw.ask(raw.request('OPTIONS'))).toBe(200);
    const guesser = await newSet('1001', 'udp', 'wrong-password');
    const pbxReceived = lab.pbx.app.transport.stats.received;
    for (let i = 0; i < 3; i++) expect((await guesser.register()).response.status).toBe(403);
    expect(lab.pbx.app.transport.stats.received).toBe(pbxReceived);

    // All failures came from one source with one User-Agent: both reach the limit together.
    const blocks = lab.gateway.status().blocks;
    expect(blocks.map((b) => ({ kind: b.kind, value: b.value, reason: b.reason, count: b.count }))).toEqual([
      { kind: 'source', value: SOURCE, reason: 'authentication-failures', count: 3 },
      { kind: 'user-agent', value: TEST_SET_USER_AGENT, reason: 'authentication-failures', count: 3 },
    ]);
    expect(lab.gateway.status().counters).toMatchObject({ blocksActive: 2 });
    await expectDroppedUnanswered(lab, raw, raw.request('OPTIONS'));

    expect((await api(lab, 'DELETE', `/api/blocks/source/${SOURCE}`)).status).toBe(200);
    expect((await api(lab, 'DELETE', `/api/blocks/source/${SOURCE}`)).status).toBe(404);
    expect(lab.gateway.status().blocks.map((b) => b.kind)).toEqual(['user-agent']);
    // The source is answered again, but the set's User-Agent is still blocked.
    expect(await raw.ask(raw.request('OPTIONS'))).toBe(200);
    await expectDroppedUnanswered(lab, raw, raw.request('OPTIONS', { userAgent: TEST_SET_USER_AGENT }));

    expect((await api(lab, 'DELETE', `/api/blocks/user-agent/${encodeURIComponent(TEST_SET_USER_AGENT)}`)).status).toBe(200);
    expect(lab.gateway.status().blocks).toEqual([]);
    const set = await newSet('1001', 'udp');
    expect((await set.register()).response.status).toBe(200);
  }, 20_000);

  it('drops a known scanner unanswered, before it can reach the pbx', async () => {
    const raw = await newRaw();
    const pbxReceived = lab.pbx.app.transport.stats.received;
    const invite = raw.request('INVITE', { userAgent: 'friendly-scanner', uri: `sip:1001@${HOST}` });
    await expectDroppedUnanswered(lab, raw, invite, 'scannersDropped');
    await expectDroppedUnanswered(lab, raw, raw.request('REGISTER', { userAgent: 'SIPVicious 0.3.4' }), 'scannersDropped');
    expect(lab.pbx.app.transport.stats.received).toBe(pbxReceived);
    // Dropping a scanner is not a block: the same source with an honest User-Agent is answered.
    expect(lab.gateway.status().blocks).toEqual([]);
    expect(await raw.ask(raw.request('OPTIONS'))).toBe(200);
  });

  it('blocks a flooding source as a flood once it sends more than maxRequestsPerWindow', async () => {
    const raw = await newRaw();
    const transport = lab.gateway.context.setApp.transport;
    const received = transport.stats.received;
    for (let i = 0; i < 30; i++) raw.send(raw.request('OPTIONS'));
    await waitFor(() => transport.stats.received >= received + 30, 5000, 'the gateway to read all 30 requests');
    await waitFor(() => raw.answers.length >= 20, 5000, '20 answers');
    await new Promise((r) => setTimeout(r, SILENCE_MS));
    expect(raw.statuses).toEqual(new Array(20).fill(200));
    const blocks = lab.gateway.status().blocks;
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toMatchObject({ kind: 'source', value: SOURCE, reason: 'flood', count: 21 });
    await expectDroppedUnanswered(lab, raw, raw.request('OPTIONS'));

    expect(lab.gateway.blocker.unblock('source', SOURCE)).toBe(true);
    expect(await raw.ask(raw.request('OPTIONS'))).toBe(200);
  });

  it('answers malformed SIP over UDP with 400, counts it, and keeps answering', async () => {
    const raw = await newRaw();
    const malformed = lab.gateway.status().counters.malformed;
    // The CSeq names another method than the request line: RFC 3261 §8.2 makes that a 400.
    expect(await raw.ask(raw.request('OPTIONS', { cseqMethod: 'INVITE' }))).toBe(400);
    expect(lab.gateway.status().counters.malformed).toBe(malformed + 1);
    const before = lab.gateway.status().counters.malformed;
    raw.send('this is not SIP at all\r\n\r\n');
    await waitFor(() => lab.gateway.status().counters.malformed > before, 3000, 'the garbage to be counted');
    expect(await raw.ask(raw.request('OPTIONS'))).toBe(200);
  });

  // Malformed requests never reach requestFilter: the transport's 'rejected' event counts them.
  it('blocks a source flooding malformed requests as a flood too', async () => {
    const raw = await newRaw();
    const transport = lab.gateway.context.setApp.transport;
    const received = transport.stats.received;
    for (let i = 0; i < 30; i++) raw.send(raw.request('OPTIONS', { cseqMethod: 'INVITE' }));
    await waitFor(() => transport.stats.received >= received + 30, 5000, 'the gateway to read all 30 requests');
    await new Promise((r) => setTimeout(r, SILENCE_MS));
    // The one that crosses the limit still gets its 400 (it is counted as it is answered); the rest get silence.
    expect(raw.answers.length).toBeLessThanOrEqual(21);
    expect(lab.gateway.status().blocks).toEqual([expect.objectContaining({ kind: 'source', value: SOURCE, reason: 'flood' })]);
  });

  it('/metrics over HTTPS shows authentication failures and registrations', async () => {
    const set = await newSet('1002', 'tcp');
    expect((await set.register()).response.status).toBe(200);
    const guesser = await newSet('1003', 'tcp', 'not-carols-password');
    expect((await guesser.register()).response.status).toBe(403);

    const { status, body } = await api(lab, 'GET', '/metrics');
    expect(status).toBe(200);
    const metrics = parseMetrics(body);
    const counters = lab.gateway.status().counters;
    expect(counters.authFailures).toBeGreaterThanOrEqual(1);
    expect(metrics.get('psi_gateway_auth_failures_total')).toBe(counters.authFailures);
    expect(counters.registrations).toBeGreaterThanOrEqual(1);
    expect(metrics.get('psi_gateway_registrations')).toBe(counters.registrations);
    expect(metrics.get('psi_gateway_registrations')).toBe(lab.gateway.status().registrations.length);
    expect(metrics.get('psi_gateway_registrations_by_transport{transport="tcp"}')).toBeGreaterThanOrEqual(1);
  });
});

/**
 * A lab on ACCESS_HOST with `accessList`, for the tests of one describe block. Started and
 * closed by that block's hooks, so the two access-list labs take the address one after the other.
 */
function accessListLab(accessList: GatewayConfig['security']['accessList']): {
  lab(): GatewayLab;
  newRaw(bindTo?: string): Promise<RawUdpSet>;
} {
  let lab: GatewayLab;
  const raws: RawUdpSet[] = [];
  beforeAll(async () => {
    lab = await startGatewayLab(ACCESS_HOST, { media: { portMin: 42500, portMax: 42599 }, security: { accessList, maxAuthFailures: 2 } });
  }, 60_000);
  afterAll(async () => {
    for (const r of raws) r.close();
    await lab?.close();
  });
  return {
    lab: () => lab,
    newRaw: async (bindTo = SOURCE) => {
      const raw = await RawUdpSet.open({ host: ACCESS_HOST, port: 5060 }, bindTo);
      raws.push(raw);
      return raw;
    },
  };
}

describe('access list: a black-listed source', () => {
  const { lab, newRaw } = accessListLab([{ cidr: `${SOURCE}/32`, list: 'black' }]);

  it('is dropped before parsing: no answer, not even to garbage, and nothing counted as a request', async () => {
    const raw = await newRaw();
    const { rejected } = lab().gateway.context.setApp.transport.stats;
    const { malformed, requests } = lab().gateway.status().counters;
    await expectDroppedUnanswered(lab(), raw, raw.request('OPTIONS'));
    await expectDroppedUnanswered(lab(), raw, 'this is not SIP at all\r\n\r\n');
    expect(lab().gateway.context.setApp.transport.stats.rejected).toBe(rejected);
    expect(lab().gateway.status().counters).toMatchObject({ malformed, requests });
    // Refused by configuration, not blocked: nothing shows as a block.
    expect(lab().gateway.status().blocks).toEqual([]);
  });
});

describe('access list: a white-list rule before a black-list rule', () => {
  const { lab, newRaw } = accessListLab([{ cidr: `${SOURCE}/32`, list: 'white' }, { cidr: '127.0.0.0/8', list: 'black' }]);

  it('lets the white-listed source through and still drops the rest of the black-listed range', async () => {
    const raw = await newRaw();
    expect(await raw.ask(raw.request('OPTIONS'))).toBe(200);
    const other = await newRaw(ACCESS_HOST);
    await expectDroppedUnanswered(lab(), other, other.request('OPTIONS'));
  });

  it('never blocks the white-listed source for wrong passwords', async () => {
    const set = new TestSet({ user: '1001', password: 'wrong-password', protocol: 'tcp', host: ACCESS_HOST, port: 5060 });
    await set.start();
    try {
      for (let i = 0; i < 3; i++) expect((await set.register()).response.status).toBe(403);
      expect(lab().gateway.status().blocks).toEqual([]);
      expect(lab().gateway.status().counters.authFailures).toBe(3);
    } finally {
      await set.close();
    }
  });
});
