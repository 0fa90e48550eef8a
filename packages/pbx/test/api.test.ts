import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startManagementApi, type RunningManagementApi } from '../src/api/server.js';
import type { BlockSource } from '../src/api/routes.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { seedDefaults } from '../src/store/seed.js';
import type { PbxStore } from '../src/store/types.js';

const TOKEN = 'test-token-0123456789';
const MBG = { address: '127.0.0.1', publicFqdn: 'mbg.example.com', account: 'mbg-link', sharedSecret: 'shared-secret-1' };

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

interface CallOptions {
  body?: unknown;
  rawBody?: string;
  /** Default: the bearer token; null: no Authorization header. */
  authorization?: string | null;
}

function client(api: () => RunningManagementApi) {
  return async (method: string, path: string, options: CallOptions = {}): Promise<Answer> => {
    const headers: Record<string, string> = {};
    const authorization = options.authorization === undefined ? `Bearer ${TOKEN}` : options.authorization;
    if (authorization !== null) headers.authorization = authorization;
    const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`http://127.0.0.1:${api().port}${path}`, { method, headers, body: payload });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, body: text ? JSON.parse(text) : undefined };
  };
}

const basic = (account: string, secret: string): string => `Basic ${Buffer.from(`${account}:${secret}`).toString('base64')}`;

function expectError(answer: Answer, status: number, code: string, field: string | null): string {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toContain('application/json');
  const { error } = answer.body as { error: { code: string; field: string | null; message: string } };
  expect({ code: error.code, field: error.field }).toEqual({ code, field });
  expect(error.message.length).toBeGreaterThan(5);
  return error.message;
}

class FakeBlocks implements BlockSource {
  readonly blocked = new Map([
    ['203.0.113.7', { address: '203.0.113.7', reason: 'authentication failures', until: 1_900_000_000_000 }],
    ['2001:db8::7', { address: '2001:db8::7', reason: 'request flood', until: 1_900_000_000_000 }],
  ]);
  list() {
    return [...this.blocked.values()];
  }
  lift(address: string): boolean {
    return this.blocked.delete(address);
  }
}

let store: SqliteStore;
let api: RunningManagementApi;
let apiWithoutBlocks: RunningManagementApi;
let blocks: FakeBlocks;
const call = client(() => api);

// Every test gets a fresh store (the seeded defaults only), API and blocks: none sees another's
// leftovers, whatever the order and whether the other passed.
beforeEach(async () => {
  store = SqliteStore.open(':memory:', { realm: 'psi-lab' });
  seedDefaults(store);
  blocks = new FakeBlocks();
  api = await startManagementApi({ store, token: TOKEN, port: 0, blocks });
  apiWithoutBlocks = await startManagementApi({ store, token: TOKEN, port: 0 });
});

afterEach(async () => {
  await api.close();
  await apiWithoutBlocks.close();
  store.close();
});

describe('management API authentication', () => {
  it('needs the bearer token on every route, known or not', async () => {
    const missing = await call('GET', '/api/subscribers', { authorization: null });
    expect(expectError(missing, 401, 'unauthorized', 'authorization')).toContain('Bearer');
    expect(missing.headers.get('www-authenticate')).toContain('Bearer');
    expectError(await call('GET', '/api/subscribers', { authorization: 'Bearer wrong' }), 401, 'unauthorized', 'authorization');
    expectError(await call('GET', '/api/subscribers', { authorization: basic('mbg-link', 'x') }), 401, 'unauthorized', 'authorization');
    expectError(await call('DELETE', '/api/roles/Standard', { authorization: null }), 401, 'unauthorized', 'authorization');
    expectError(await call('GET', '/api/nothing-here', { authorization: null }), 401, 'unauthorized', 'authorization');
    expectError(await call('GET', '/api/nothing-here'), 404, 'not-found', 'path');
    const wrongMethod = await call('POST', '/api/roles');
    expectError(wrongMethod, 405, 'method-not-allowed', 'method');
    expect(wrongMethod.headers.get('allow')).toBe('GET');
  });

  it('refuses an empty token at creation', async () => {
    await expect(startManagementApi({ store, token: '', port: 0 })).rejects.toThrow(/non-empty token/);
  });
});

describe('management API subscribers', () => {
  const dan = { extension: '1004', name: 'Dan', email: 'dan@example.com', password: 'dan-secret-1', role: 'Zoom PSI User' };

  it('creates, reads, changes and removes a subscriber, never showing secrets', async () => {
    const created = await call('POST', '/api/subscribers', { body: dan });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/api/subscribers/1004');
    expect(created.body).toMatchObject({ extension: '1004', name: 'Dan', role: 'Zoom PSI User', dndAllowed: true, dndActive: false, forwardings: [] });

    const listed = await call('GET', '/api/subscribers');
    expect(listed.status).toBe(200);
    expect((listed.body as Array<{ extension: string }>).map((s) => s.extension)).toEqual(['1004']);
    expect((await call('GET', '/api/subscribers/1004')).body).toEqual(created.body);

    const patched = await call('PATCH', '/api/subscribers/1004', {
      body: { dndActive: true, forwardings: [{ kind: 'busy', target: '1002' }, { kind: 'noAnswer', target: '1002', delaySeconds: 15 }] },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ dndActive: true, forwardings: [{ kind: 'busy', target: '1002' }, { kind: 'noAnswer', target: '1002', delaySeconds: 15 }] });
    expect((await call('PATCH', '/api/subscribers/1004', { body: { password: 'new-secret-1', role: null } })).body).toMatchObject({ role: null });
    expect(store.ha1('1004', 'MD5')).toBe(createHash('md5').update('1004:psi-lab:new-secret-1').digest('hex'));

    for (const answer of [created, listed, patched]) expect(answer.text).not.toMatch(/secret|ha1/i);

    const removed = await call('DELETE', '/api/subscribers/1004');
    expect(removed.status).toBe(204);
    expect(removed.text).toBe('');
    expectError(await call('GET', '/api/subscribers/1004'), 404, 'unknown-subscriber', 'extension');
    expectError(await call('DELETE', '/api/subscribers/1004'), 404, 'unknown-subscriber', 'extension');
    expectError(await call('PATCH', '/api/subscribers/1004', { body: { name: 'x' } }), 404, 'unknown-subscriber', 'extension');
  });

  it('answers bad input with 400, duplicates with 409, each naming the field', async () => {
    await call('POST', '/api/subscribers', { body: { ...dan, extension: '1010', email: 'taken@example.com' } });
    expect(expectError(await call('POST', '/api/subscribers', { body: { ...dan, extension: '1011', email: 'TAKEN@example.com' } }), 409, 'duplicate-email', 'email'))
      .toContain('1010');
    expectError(await call('POST', '/api/subscribers', { body: { ...dan, extension: '1010', email: 'new@example.com' } }), 409, 'duplicate-extension', 'extension');
    expect(expectError(await call('POST', '/api/subscribers', { body: { ...dan, extension: '1011', password: '12345678' } }), 400, 'weak-password', 'password'))
      .toContain('at least 8 characters');
    expectError(await call('POST', '/api/subscribers', { body: { ...dan, extension: '1011', role: 'Gold' } }), 400, 'unknown-role', 'role');
    expectError(await call('POST', '/api/subscribers', { body: { ...dan, extension: '1' } }), 400, 'bad-field', 'extension');
    expectError(await call('POST', '/api/subscribers', { body: { ...dan, extension: '1011', email: 'nope' } }), 400, 'bad-field', 'email');
    expectError(await call('POST', '/api/subscribers', { body: { extension: '1011', name: 'X', email: 'x@x' } }), 400, 'bad-field', 'password');
    expectError(await call('POST', '/api/subscribers', { body: { ...dan, extension: 1011 } }), 400, 'bad-field', 'extension');
    expect(expectError(await call('PATCH', '/api/subscribers/1010', { body: { forwarding: [] } }), 400, 'bad-field', 'forwarding')).toContain('unknown field');
    expectError(await call('PATCH', '/api/subscribers/1010', { body: { forwardings: [{ kind: 'later', target: '1002' }] } }), 400, 'bad-field', 'forwardings[0].kind');
    expectError(await call('PATCH', '/api/subscribers/1010', { body: { dndActive: 'yes' } }), 400, 'bad-field', 'dndActive');
    expect(expectError(await call('POST', '/api/subscribers', { rawBody: '{"extension": "10' }), 400, 'bad-json', 'body')).toContain('not valid JSON');
    expectError(await call('POST', '/api/subscribers', { rawBody: '[1, 2]' }), 400, 'bad-json', 'body');
    expectError(await call('POST', '/api/subscribers'), 400, 'bad-json', 'body');
    await call('DELETE', '/api/subscribers/1010');
  });

  it('bounds the body at 64 KiB', async () => {
    const huge = { ...dan, name: 'x'.repeat(70 * 1024) };
    expectError(await call('POST', '/api/subscribers', { body: huge }), 413, 'body-too-large', 'body');
    // Without a Content-Length (chunked), the limit still holds.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: api.port, method: 'POST', path: '/api/subscribers', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 70; i++) req.write('x'.repeat(1024));
      req.end();
    });
    expect(status).toBe(413);
  });
});

describe('management API roles', () => {
  it('lists, puts (creating or updating) and removes roles', async () => {
    expect(((await call('GET', '/api/roles')).body as Array<{ name: string }>).map((r) => r.name)).toEqual(['Standard', 'Zoom PSI User']);
    expect((await call('GET', '/api/roles/Zoom%20PSI%20User')).body).toMatchObject({ name: 'Zoom PSI User', zoomPsi: true });
    expectError(await call('GET', '/api/roles/Gold'), 404, 'not-found', 'name');

    const created = await call('PUT', '/api/roles/Gold%20Users', { body: { zoomPsi: true, description: 'VIPs' } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ name: 'Gold Users', zoomPsi: true, description: 'VIPs' });
    // Fields left out keep their value: a description change does not untick Zoom PSI.
    const updated = await call('PUT', '/api/roles/Gold%20Users', { body: { description: 'very important' } });
    expect(updated.status).toBe(200);
    expect(updated.body).toEqual({ name: 'Gold Users', zoomPsi: true, description: 'very important' });
    expectError(await call('PUT', '/api/roles/Gold%20Users', { body: { zoomPsi: 'yes' } }), 400, 'bad-field', 'zoomPsi');
    expectError(await call('PUT', '/api/roles/Gold%20Users', { body: { name: 'Silver', zoomPsi: true } }), 400, 'bad-field', 'name');

    await call('POST', '/api/subscribers', { body: { extension: '1020', name: 'G', email: 'g@example.com', password: 'gold-secret', role: 'Gold Users' } });
    expect(expectError(await call('DELETE', '/api/roles/Gold%20Users'), 409, 'role-in-use', 'name')).toContain('1020');
    await call('DELETE', '/api/subscribers/1020');
    expect((await call('DELETE', '/api/roles/Gold%20Users')).status).toBe(204);
    expectError(await call('DELETE', '/api/roles/Gold%20Users'), 404, 'not-found', 'name');
    expectError(await call('GET', '/api/roles/%E0%A4%A'), 400, 'bad-request', 'path');
  });
});

describe('management API MBG entry and gateway credentials', () => {
  it('sets, shows (without the secret), patches and clears the MBG entry', async () => {
    expectError(await call('GET', '/api/mbg'), 404, 'not-found', 'mbg');
    expectError(await call('PUT', '/api/mbg', { body: { address: '127.0.0.1' } }), 400, 'bad-field', 'publicFqdn');
    const created = await call('PUT', '/api/mbg', { body: MBG });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      address: '127.0.0.1', publicFqdn: 'mbg.example.com', account: 'mbg-link',
      warnings: [expect.stringContaining('not on the Allow-List: add it (127.0.0.1/32)')],
    });
    expect(created.text).not.toContain(MBG.sharedSecret);
    const entry = await call('POST', '/api/allow-list', { body: { cidr: '127.0.0.0/8', comment: 'loopback' } });
    const shown = await call('GET', '/api/mbg');
    expect(shown.body).toMatchObject({ account: 'mbg-link', warnings: [] });
    expect(shown.text).not.toContain(MBG.sharedSecret);
    expect((await call('PUT', '/api/mbg', { body: { publicFqdn: 'gw.example.com' } })).body).toMatchObject({ publicFqdn: 'gw.example.com', account: 'mbg-link' });
    expect(store.getMbg()?.sharedSecret).toBe(MBG.sharedSecret);
    expectError(await call('PUT', '/api/mbg', { body: { sharedSecret: 'short' } }), 400, 'bad-field', 'sharedSecret');
    expect((await call('DELETE', '/api/mbg')).status).toBe(204);
    expectError(await call('DELETE', '/api/mbg'), 404, 'not-found', 'mbg');
    await call('DELETE', `/api/allow-list/${(entry.body as { id: number }).id}`);
  });

  it('hands HA1s to the gateway over HTTP Basic with the MBG account, and to nobody else', async () => {
    const gateway = (authorization: string | null, query = ''): Promise<Answer> => call('GET', `/api/gateway/credentials${query}`, { authorization });
    expectError(await gateway(basic(MBG.account, MBG.sharedSecret)), 403, 'no-gateway', null);
    await call('PUT', '/api/mbg', { body: MBG });
    await call('POST', '/api/subscribers', { body: { extension: '1001', name: 'Alice', email: 'alice@example.com', password: 'alice-1001' } });
    await call('POST', '/api/subscribers', { body: { extension: '1002', name: 'Bob', email: 'bob@example.com', password: 'bob-secret-1' } });

    const unauthenticated = await gateway(null);
    expectError(unauthenticated, 401, 'unauthorized', 'authorization');
    expect(unauthenticated.headers.get('www-authenticate')).toContain('Basic');
    expectError(await gateway(basic(MBG.account, 'wrong-secret')), 401, 'unauthorized', 'authorization');
    expectError(await gateway(basic('someone', MBG.sharedSecret)), 401, 'unauthorized', 'authorization');
    expectError(await gateway(`Bearer ${TOKEN}`), 401, 'unauthorized', 'authorization');

    const all = await gateway(basic(MBG.account, MBG.sharedSecret));
    expect(all.status).toBe(200);
    expect(all.headers.get('cache-control')).toBe('no-store');
    expect(all.body).toEqual([
      {
        extension: '1001', realm: 'psi-lab', ha1Md5: '189b797784eb9156faec1e9f385305b8',
        ha1Sha256: createHash('sha256').update('1001:psi-lab:alice-1001').digest('hex'),
      },
      expect.objectContaining({ extension: '1002', ha1Md5: createHash('md5').update('1002:psi-lab:bob-secret-1').digest('hex') }),
    ]);
    expect((await gateway(basic(MBG.account, MBG.sharedSecret), '?extension=1002')).body).toEqual([expect.objectContaining({ extension: '1002' })]);
    expectError(await gateway(basic(MBG.account, MBG.sharedSecret), '?extension=1999'), 404, 'unknown-subscriber', 'extension');
    expectError(await gateway(basic(MBG.account, MBG.sharedSecret), '?extension='), 400, 'bad-field', 'extension');
    await call('DELETE', '/api/subscribers/1001');
    await call('DELETE', '/api/subscribers/1002');
    await call('DELETE', '/api/mbg');
  });
});

describe('management API: what an attacker meets', () => {
  it('locks out a source after 10 wrong credentials for an hour: then even the right token gets 429', async () => {
    for (let i = 0; i < 9; i++) expectError(await call('GET', '/api/subscribers', { authorization: `Bearer guess-${i}` }), 401, 'unauthorized', 'authorization');
    expect((await call('GET', '/api/subscribers')).status).toBe(200);
    expectError(await call('GET', '/api/subscribers', { authorization: basic(MBG.account, 'guess') }), 401, 'unauthorized', 'authorization');
    const locked = await call('GET', '/api/subscribers');
    expectError(locked, 429, 'too-many-failures', 'authorization');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(3500);
  });

  it('refuses a body that is not declared as JSON (a browser form post cannot pass for an API call)', async () => {
    const response = await fetch(`http://127.0.0.1:${api.port}/api/subscribers`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' },
      body: JSON.stringify({ extension: '1009', name: 'Eve', email: 'eve@example.com', password: 'eve-secret-9' }),
    });
    const text = await response.text();
    expectError({ status: response.status, headers: response.headers, text, body: JSON.parse(text) }, 415, 'unsupported-media-type', 'content-type');
    expect(store.getSubscriber('1009')).toBeUndefined();
  });

  it('hands HA1s only to the MBG\'s own address, and answers an unchanged list 304 to its ETag', async () => {
    const gateway = (headers: Record<string, string> = {}): Promise<Response> => fetch(`http://127.0.0.1:${api.port}/api/gateway/credentials`, {
      headers: { authorization: basic(MBG.account, MBG.sharedSecret), ...headers },
    });
    await call('PUT', '/api/mbg', { body: { ...MBG, address: '127.0.0.9' } });
    const elsewhere = await gateway();
    const text = await elsewhere.text();
    expectError({ status: elsewhere.status, headers: elsewhere.headers, text, body: JSON.parse(text) }, 403, 'not-the-gateway', null);

    await call('PUT', '/api/mbg', { body: MBG });
    const first = await gateway();
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const unchanged = await gateway({ 'if-none-match': etag });
    expect(unchanged.status).toBe(304);
    expect(await unchanged.text()).toBe('');
    await call('POST', '/api/subscribers', { body: { extension: '1005', name: 'Erin', email: 'erin@example.com', password: 'erin-secret-5' } });
    const changed = await gateway({ 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(((await changed.json()) as Array<{ extension: string }>).map((c) => c.extension)).toContain('1005');
  });
});

describe('management API site networks', () => {
  it('adds, lists and removes the networks on-site phones reach the pbx from', async () => {
    const added = await call('POST', '/api/site-networks', { body: { cidr: '10.20.0.0/16', comment: 'desk phones, floor 2' } });
    expect(added.status).toBe(201);
    const { id } = added.body as { id: number };
    expect((await call('GET', '/api/site-networks')).body).toEqual([{ id, cidr: '10.20.0.0/16', comment: 'desk phones, floor 2' }]);
    expect(store.listSiteNetworks()).toHaveLength(1);
    expectError(await call('POST', '/api/site-networks', { body: { cidr: '10.20.0.0/16' } }), 409, 'duplicate-cidr', 'cidr');
    expectError(await call('POST', '/api/site-networks', { body: { cidr: '10.20.0.1/16' } }), 400, 'bad-cidr', 'cidr');
    expect((await call('DELETE', `/api/site-networks/${id}`)).status).toBe(204);
    expectError(await call('DELETE', `/api/site-networks/${id}`), 404, 'not-found', 'id');
  });
});

describe('management API allow-list and blocks', () => {
  it('adds, lists and removes allow-list entries', async () => {
    const added = await call('POST', '/api/allow-list', { body: { cidr: '2001:DB8::/32', comment: 'v6 office' } });
    expect(added.status).toBe(201);
    const { id } = added.body as { id: number };
    expect(added.body).toEqual({ id, cidr: '2001:db8::/32', comment: 'v6 office' });
    expect((await call('GET', '/api/allow-list')).body).toEqual([added.body]);
    expect(expectError(await call('POST', '/api/allow-list', { body: { cidr: '10.0.0.0/33' } }), 400, 'bad-cidr', 'cidr')).toContain('0 to 32');
    expectError(await call('POST', '/api/allow-list', { body: { cidr: '2001:db8::/32' } }), 409, 'duplicate-cidr', 'cidr');
    expectError(await call('POST', '/api/allow-list', { body: { comment: 'no cidr' } }), 400, 'bad-field', 'cidr');
    expectError(await call('DELETE', '/api/allow-list/abc'), 400, 'bad-field', 'id');
    expect((await call('DELETE', `/api/allow-list/${id}`)).status).toBe(204);
    expectError(await call('DELETE', `/api/allow-list/${id}`), 404, 'not-found', 'id');
  });

  it('lists and lifts blocks through the injected source, 501 without one', async () => {
    expect((await call('GET', '/api/blocks')).body).toEqual(blocks.list());
    expect((await call('DELETE', '/api/blocks/2001%3Adb8%3A%3A7')).status).toBe(204);
    expect((await call('DELETE', '/api/blocks/203.0.113.7')).status).toBe(204);
    expectError(await call('DELETE', '/api/blocks/203.0.113.7'), 404, 'not-found', 'address');
    expect((await call('GET', '/api/blocks')).body).toEqual([]);
    const withoutBlocks = client(() => apiWithoutBlocks);
    expectError(await withoutBlocks('GET', '/api/blocks'), 501, 'not-implemented', null);
    expectError(await withoutBlocks('DELETE', '/api/blocks/203.0.113.7'), 501, 'not-implemented', null);
  });
});

describe('management API failures', () => {
  it('answers an unexpected failure with a 500 that leaks nothing', async () => {
    const failing = new Proxy(store as PbxStore, {
      get: (target, property, receiver) => (property === 'listSubscribers'
        ? () => { throw new Error('SQLITE_CORRUPT: secret internals'); }
        : Reflect.get(target, property, receiver)),
    });
    const broken = await startManagementApi({ store: failing, token: TOKEN, port: 0 });
    try {
      const answer = await client(() => broken)('GET', '/api/subscribers');
      expect(expectError(answer, 500, 'internal', null)).not.toContain('SQLITE');
    } finally {
      await broken.close();
    }
  });
});
