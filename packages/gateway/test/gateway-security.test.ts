import dgram from 'node:dgram';
import https from 'node:https';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GatewayConfig } from '../src/index.js';
import { leaseLoopbackAddress } from '@psi-lab/testkit';
import { clearRegistrations, pbxRegistersFor, startGatewayLab, USERS, type GatewayLab } from './helpers/gateway-lab.js';
import { TestSet, waitFor } from './helpers/test-set.js';

const HOST = await leaseLoopbackAddress();
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

  static async open(target: { host: string; port: number }, bindTo: string): Promise<RawUdpSet> {
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
  async ask(text: string): Promise<number> {
    const before = this.answers.length;
    this.send(text);
    await waitFor(() => this.answers.length > before, undefined, 'an answer from the gateway');
    return this.statuses[before];
  }

  close(): void {
    this.socket.close();
  }
}

/** One HTTPS request to the gateway's status server, trusting the lab's CA. */
function api(lab: GatewayLab, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: lab.host, port: lab.gateway.listeners.admin!.port, method, path, ca: lab.ca, agent: false, headers: { authorization: `Bearer ${lab.adminToken}` } }, (res) => {
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
  await waitFor(() => lab.gateway.status().counters[counter] > before, undefined, `counters.${counter} to grow`);
  await new Promise((r) => setTimeout(r, SILENCE_MS));
  expect(raw.answers.slice(answers)).toEqual([]);
}

const password = (user: string): string => USERS.find((u) => u.extension === user)!.password;

/** INVITEs the pbx received: nothing in this file places a call, so any would be a leak. */
const pbxInvites = (lab: GatewayLab): number => lab.pbxRequests.filter((r) => r.method === 'INVITE').length;

describe('gateway security (source blocking, scanners, floods, malformed SIP)', () => {
  let lab: GatewayLab;
  /**
   * This test's own source address: blocks and flood counts land on it alone, and a block never
   * closes the connections of a set another test left open.
   */
  let source: string;
  let sets: TestSet[] = [];
  let raws: RawUdpSet[] = [];
  const newSet = async (user: string, protocol: 'udp' | 'tcp', pass = password(user)): Promise<TestSet> => {
    const set = await new TestSet({ user, password: pass, protocol, host: HOST, port: 5060, localAddress: source }).start();
    sets.push(set);
    return set;
  };
  const newRaw = async (): Promise<RawUdpSet> => {
    const raw = await RawUdpSet.open({ host: HOST, port: 5060 }, source);
    raws.push(raw);
    return raw;
  };

  beforeAll(async () => {
    lab = await startGatewayLab(HOST, {
      // A long window: the limits are reached by count, never by how fast this machine is.
      security: { maxAuthFailures: 3, maxRequestsPerWindow: 20, windowSeconds: 60 },
    });
  }, 60_000);
  beforeEach(async () => {
    source = await leaseLoopbackAddress();
  });
  afterEach(async () => {
    await clearRegistrations(lab);
    for (const set of sets.splice(0)) await set.close();
    for (const raw of raws.splice(0)) raw.close();
    // Users locked by one test must not carry over (unblocking forgets the counts behind a block).
    for (const block of lab.gateway.status().blocks) lab.gateway.blocker.unblock(block.kind, block.value);
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('blocks a source after maxAuthFailures wrong passwords, and the HTTPS API lifts the block', async () => {
    const raw = await newRaw();
    expect(await raw.ask(raw.request('OPTIONS'))).toBe(200);
    // Over UDP: a block closes the source's connections at once, before a TCP guesser could read its third 403.
    const guesser = await newSet('1001', 'udp', 'wrong-password');
    const pbxRegisters = pbxRegistersFor(lab, '1001');
    for (let i = 0; i < 3; i++) expect((await guesser.register()).response.status).toBe(403);
    // Each 403 came from the gateway itself: a REGISTER relayed to the pbx would have arrived before it.
    expect(pbxRegistersFor(lab, '1001')).toBe(pbxRegisters);

    // The source is blocked; the User-Agent every TestSet sends is not (anyone can send it).
    const blocks = lab.gateway.status().blocks;
    expect(blocks.map((b) => ({ kind: b.kind, value: b.value, reason: b.reason, count: b.count }))).toEqual([
      { kind: 'source', value: source, reason: 'authentication-failures', count: 3 },
    ]);
    expect(lab.gateway.status().counters).toMatchObject({ blocksActive: 1 });
    await expectDroppedUnanswered(lab, raw, raw.request('OPTIONS'));
    const elsewhere = await RawUdpSet.open({ host: HOST, port: 5060 }, await leaseLoopbackAddress());
    raws.push(elsewhere);
    expect(await elsewhere.ask(elsewhere.request('OPTIONS', { userAgent: TEST_SET_USER_AGENT }))).toBe(200);

    // Lifted through the admin API (with its token).
    expect((await api(lab, 'DELETE', `/api/blocks/source/${source}`)).status).toBe(200);
    expect((await api(lab, 'DELETE', `/api/blocks/source/${source}`)).status).toBe(404);
    expect(lab.gateway.status().blocks).toEqual([]);
    expect(await raw.ask(raw.request('OPTIONS'))).toBe(200);
    const set = await newSet('1001', 'tcp');
    expect((await set.register()).response.status).toBe(200);
    // The control: the right password does reach the pbx, and the count above sees it.
    expect(pbxRegistersFor(lab, '1001')).toBeGreaterThan(pbxRegisters);
  });

  it('drops a known scanner unanswered, before it can reach the pbx', async () => {
    const raw = await newRaw();
    const invites = pbxInvites(lab);
    const invite = raw.request('INVITE', { userAgent: 'friendly-scanner', uri: `sip:1001@${HOST}` });
    await expectDroppedUnanswered(lab, raw, invite, 'scannersDropped');
    await expectDroppedUnanswered(lab, raw, raw.request('REGISTER', { userAgent: 'SIPVicious 0.3.4' }), 'scannersDropped');
    expect(pbxInvites(lab)).toBe(invites);
    // Dropping a scanner is not a block: the same source with an honest User-Agent is answered.
    expect(lab.gateway.status().blocks).toEqual([]);
    expect(await raw.ask(raw.request('OPTIONS'))).toBe(200);
  });

  it('blocks a flooding source as a flood once it sends more than maxRequestsPerWindow', async () => {
    const raw = await newRaw();
    const dropped = lab.gateway.status().counters.dropped;
    for (let i = 0; i < 30; i++) raw.send(raw.request('OPTIONS'));
    // 20 answered; the 21st crosses the limit and is dropped, the 9 after it too.
    await waitFor(() => lab.gateway.status().counters.dropped >= dropped + 10, undefined, 'the gateway to drop the 10 requests over the limit');
    await waitFor(() => raw.answers.length >= 20, undefined, '20 answers');
    await new Promise((r) => setTimeout(r, SILENCE_MS));
    expect(raw.statuses).toEqual(new Array(20).fill(200));
    const blocks = lab.gateway.status().blocks;
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toMatchObject({ kind: 'source', value: source, reason: 'flood', count: 21 });
    await expectDroppedUnanswered(lab, raw, raw.request('OPTIONS'));

    expect(lab.gateway.blocker.unblock('source', source)).toBe(true);
    expect(await raw.ask(raw.request('OPTIONS'))).toBe(200);
  });

  it('answers malformed SIP over UDP with 400, counts it, and keeps answering', async () => {
    const raw = await newRaw();
    const malformed = lab.gateway.status().counters.malformed;
    // The CSeq names another method than the request line: RFC 3261 §8.2 makes that a 400.
    expect(await raw.ask(raw.request('OPTIONS', { cseqMethod: 'INVITE' }))).toBe(400);
    expect(lab.gateway.status().counters.malformed).toBe(malformed + 1);
    raw.send('this is not SIP at all\r\n\r\n');
    await waitFor(() => lab.gateway.status().counters.malformed > malformed + 1, undefined, 'the garbage to be counted');
    expect(await raw.ask(raw.request('OPTIONS'))).toBe(200);
  });

  // Every message counts toward the flood limit before it is parsed: garbage too.
  it('blocks a source flooding malformed requests as a flood too', async () => {
    const raw = await newRaw();
    const dropped = lab.gateway.status().counters.dropped;
    for (let i = 0; i < 30; i++) raw.send(raw.request('OPTIONS', { cseqMethod: 'INVITE' }));
    // 20 get their 400; the 21st crosses the limit and is dropped unparsed, the 9 after it too.
    await waitFor(() => raw.answers.length >= 20, undefined, '20 answers');
    await waitFor(() => lab.gateway.status().counters.dropped >= dropped + 10, undefined, 'the gateway to drop the 10 requests over the limit');
    await new Promise((r) => setTimeout(r, SILENCE_MS));
    expect(raw.statuses).toEqual(new Array(20).fill(400));
    expect(lab.gateway.status().blocks).toEqual([expect.objectContaining({ kind: 'source', value: source, reason: 'flood' })]);
  });

  it('/metrics on the admin listener shows authentication failures and registrations', async () => {
    const failures = lab.gateway.status().counters.authFailures;
    const set = await newSet('1002', 'tcp');
    expect((await set.register()).response.status).toBe(200);
    const guesser = await newSet('1003', 'tcp', 'not-carols-password');
    expect((await guesser.register()).response.status).toBe(403);

    const { status, body } = await api(lab, 'GET', '/metrics');
    expect(status).toBe(200);
    const metrics = parseMetrics(body);
    const counters = lab.gateway.status().counters;
    // Every test leaves no registration behind: the one above is the only one.
    expect(counters.authFailures).toBe(failures + 1);
    expect(metrics.get('psi_gateway_auth_failures_total')).toBe(counters.authFailures);
    expect(counters.registrations).toBe(1);
    expect(metrics.get('psi_gateway_registrations')).toBe(1);
    expect(lab.gateway.status().registrations).toHaveLength(1);
    expect(metrics.get('psi_gateway_registrations_by_transport{transport="tcp"}')).toBe(1);
  });
});

/**
 * A lab with `accessList` on an address of its own, for the tests of one describe block, and
 * the source address its rules are written for (both leased when the block starts).
 */
function accessListLab(rulesFor: (source: string) => GatewayConfig['security']['accessList']): {
  lab(): GatewayLab;
  source(): string;
  newRaw(bindTo?: string): Promise<RawUdpSet>;
} {
  let lab: GatewayLab;
  let source: string;
  const raws: RawUdpSet[] = [];
  beforeAll(async () => {
    source = await leaseLoopbackAddress();
    lab = await startGatewayLab(await leaseLoopbackAddress(), { security: { accessList: rulesFor(source), maxAuthFailures: 2 } });
  }, 60_000);
  afterAll(async () => {
    for (const r of raws) r.close();
    await lab?.close();
  });
  return {
    lab: () => lab,
    source: () => source,
    newRaw: async (bindTo = source) => {
      const raw = await RawUdpSet.open({ host: lab.host, port: 5060 }, bindTo);
      raws.push(raw);
      return raw;
    },
  };
}

describe('access list: a black-listed source', () => {
  const { lab, newRaw } = accessListLab((source) => [{ cidr: `${source}/32`, list: 'black' }]);

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
  const { lab, source, newRaw } = accessListLab((white) => [{ cidr: `${white}/32`, list: 'white' }, { cidr: '127.0.0.0/8', list: 'black' }]);

  it('lets the white-listed source through and still drops the rest of the black-listed range', async () => {
    const raw = await newRaw();
    expect(await raw.ask(raw.request('OPTIONS'))).toBe(200);
    const other = await newRaw(lab().host);
    await expectDroppedUnanswered(lab(), other, other.request('OPTIONS'));
  });

  it('never blocks the white-listed source for wrong passwords', async () => {
    const set = new TestSet({ user: '1001', password: 'wrong-password', protocol: 'tcp', host: lab().host, port: 5060, localAddress: source() });
    await set.start();
    try {
      const failures = lab().gateway.status().counters.authFailures;
      for (let i = 0; i < 3; i++) expect((await set.register()).response.status).toBe(403);
      expect(lab().gateway.status().counters.authFailures).toBe(failures + 3);
      expect(lab().gateway.status().blocks).toEqual([]);
    } finally {
      await set.close();
    }
  });
});
