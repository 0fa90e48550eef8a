import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { seedDefaults } from '../src/store/seed.js';
import { StoreError, type Binding, type NewSubscriber } from '../src/store/types.js';

const REALM = 'psi-lab';

function openStore(): SqliteStore {
  const store = SqliteStore.open(':memory:', { realm: REALM });
  seedDefaults(store);
  return store;
}

const dan: NewSubscriber = { extension: '1004', name: 'Dan', email: 'dan@example.com', password: 'dan-secret-1', role: 'Zoom PSI User' };

/** Runs `action`, expecting a StoreError with this code and field; returns it for message checks. */
function storeError(action: () => unknown, code: StoreError['code'], field: string): StoreError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError);
    const storeFailure = error as StoreError;
    expect({ code: storeFailure.code, field: storeFailure.field }).toEqual({ code, field });
    return storeFailure;
  }
  throw new Error(`expected a ${code} StoreError on ${field}, but nothing was thrown`);
}

function binding(aor: string, contact: string, overrides: Partial<Binding> = {}): Binding {
  return {
    aor, contact, expiresAt: 10_000, q: 1, callId: `call-${contact}`, cseq: 1, instanceId: null, regId: null,
    path: [], flowId: 'udp:1', source: '127.0.0.1:5060', transport: 'udp', userAgent: 'test', updatedAt: 1, ...overrides,
  };
}

describe('SqliteStore subscribers', () => {
  it('adds a subscriber with defaults: DND allowed, not active, no forwarding', () => {
    const store = openStore();
    const added = store.addSubscriber(dan);
    expect(added).toMatchObject({ extension: '1004', name: 'Dan', email: 'dan@example.com', role: 'Zoom PSI User', dndAllowed: true, dndActive: false, forwardings: [] });
    expect(added.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(store.getSubscriber('1004')).toEqual(added);
    expect(store.getSubscriber('1999')).toBeUndefined();
    // What the store hands out never carries the password or its hashes.
    expect(JSON.stringify(added)).not.toMatch(/secret|ha1/i);
  });

  it('stores HA1 = MD5 and SHA-256 of extension:realm:password, never the password', () => {
    const store = openStore();
    store.addSubscriber(dan);
    const expectedMd5 = createHash('md5').update('1004:psi-lab:dan-secret-1').digest('hex');
    const expectedSha256 = createHash('sha256').update('1004:psi-lab:dan-secret-1').digest('hex');
    expect(store.ha1('1004', 'MD5')).toBe(expectedMd5);
    expect(store.ha1('1004', 'SHA-256')).toBe(expectedSha256);
    // A value worked out by hand once, so the formula itself is pinned too.
    store.addSubscriber({ extension: '1001', name: 'Alice', email: 'alice@example.com', password: 'alice-1001' });
    expect(store.ha1('1001', 'MD5')).toBe('189b797784eb9156faec1e9f385305b8');
    expect(store.ha1('1999', 'MD5')).toBeUndefined();
  });

  it('changes the HA1s when the password changes', () => {
    const store = openStore();
    store.addSubscriber(dan);
    store.updateSubscriber('1004', { password: 'another-secret' });
    expect(store.ha1('1004', 'MD5')).toBe(createHash('md5').update('1004:psi-lab:another-secret').digest('hex'));
  });

  it('finds subscribers by e-mail regardless of case and lists them in numeric order', () => {
    const store = openStore();
    store.addSubscriber(dan);
    store.addSubscriber({ extension: '99', name: 'Short', email: 'short@example.com', password: 'short-secret' });
    store.addSubscriber({ extension: '1002', name: 'Bob', email: 'bob@example.com', password: 'bob-secret-1' });
    expect(store.findSubscriberByEmail('DAN@Example.COM')?.extension).toBe('1004');
    expect(store.findSubscriberByEmail('nobody@example.com')).toBeUndefined();
    expect(store.listSubscribers().map((s) => s.extension)).toEqual(['99', '1002', '1004']);
  });

  it('updates name, e-mail, role, DND and forwardings', () => {
    const store = openStore();
    store.addSubscriber(dan);
    const updated = store.updateSubscriber('1004', {
      name: 'Daniel', email: 'daniel@example.com', role: 'Standard', dndActive: true,
      forwardings: [{ kind: 'noAnswer', target: '1002', delaySeconds: 15 }, { kind: 'all', target: '1003' }, { kind: 'busy', target: '0612345678' }],
    });
    expect(updated).toMatchObject({ name: 'Daniel', email: 'daniel@example.com', role: 'Standard', dndActive: true });
    expect(updated.forwardings).toEqual([
      { kind: 'all', target: '1003' }, { kind: 'busy', target: '0612345678' }, { kind: 'noAnswer', target: '1002', delaySeconds: 15 },
    ]);
    expect(store.updateSubscriber('1004', { forwardings: [{ kind: 'noAnswer', target: '1002' }] }).forwardings)
      .toEqual([{ kind: 'noAnswer', target: '1002', delaySeconds: 20 }]);
    expect(store.updateSubscriber('1004', { role: null }).role).toBeNull();
    // Withdrawing "DND allowed" switches an active DND off.
    expect(store.updateSubscriber('1004', { dndAllowed: false })).toMatchObject({ dndAllowed: false, dndActive: false });
    expect(store.listSubscribers()[0].forwardings).toHaveLength(1);
  });

  it('removes a subscriber with its forwardings and bindings', () => {
    const store = openStore();
    store.addSubscriber(dan);
    store.updateSubscriber('1004', { forwardings: [{ kind: 'all', target: '1002' }] });
    store.replaceBindings('1004', [binding('1004', 'sip:1004@10.0.0.1')]);
    store.removeSubscriber('1004');
    expect(store.getSubscriber('1004')).toBeUndefined();
    expect(store.bindings('1004')).toEqual([]);
    // Re-adding the extension starts clean: no forwarding left behind by the cascade.
    expect(store.addSubscriber(dan).forwardings).toEqual([]);
  });

  it('rejects bad subscriber input with a StoreError naming the field and the fix', () => {
    const store = openStore();
    store.addSubscriber(dan);
    expect(storeError(() => store.addSubscriber({ ...dan, email: 'other@example.com' }), 'duplicate-extension', 'extension').message).toContain('1004');
    expect(storeError(() => store.addSubscriber({ ...dan, extension: '1005', email: 'DAN@example.com' }), 'duplicate-email', 'email').message)
      .toContain('already used by subscriber 1004');
    expect(storeError(() => store.addSubscriber({ ...dan, extension: '1005', email: 'e@x', role: 'Gold' }), 'unknown-role', 'role').message)
      .toContain('"Zoom PSI User"');
    for (const extension of ['1', '12345678901', '10a4', '']) {
      expect(storeError(() => store.addSubscriber({ ...dan, extension, email: 'e@x' }), 'bad-field', 'extension').message).toContain('2 to 10 digits');
    }
    storeError(() => store.addSubscriber({ ...dan, extension: '1005', email: 'not-an-address' }), 'bad-field', 'email');
    storeError(() => store.addSubscriber({ ...dan, extension: '1005', email: 'e@x', name: '   ' }), 'bad-field', 'name');
    storeError(() => store.updateSubscriber('1999', { name: 'x' }), 'unknown-subscriber', 'extension');
    storeError(() => store.removeSubscriber('1999'), 'unknown-subscriber', 'extension');
    storeError(() => store.updateSubscriber('1004', { dndAllowed: false, dndActive: true }), 'bad-field', 'dndActive');
    store.addSubscriber({ ...dan, extension: '1005', email: 'e@x' });
    storeError(() => store.updateSubscriber('1005', { email: 'dan@example.com' }), 'duplicate-email', 'email');
    // A failed update changes nothing.
    expect(store.getSubscriber('1005')?.email).toBe('e@x');
  });

  it('enforces the password policy and states it', () => {
    const store = openStore();
    const weak = { short: 'abc123', extension: '10041004', digits: '12345678' };
    const shortError = storeError(() => store.addSubscriber({ ...dan, password: weak.short }), 'weak-password', 'password');
    expect(shortError.message).toContain('at least 8 characters, not the extension itself, and not all digits');
    storeError(() => store.addSubscriber({ ...dan, extension: '10041004', password: weak.extension }), 'weak-password', 'password');
    storeError(() => store.addSubscriber({ ...dan, password: weak.digits }), 'weak-password', 'password');
    store.addSubscriber(dan);
    storeError(() => store.updateSubscriber('1004', { password: 'short' }), 'weak-password', 'password');
  });

  it('checks forwardings: kind, target, duplicates, delay', () => {
    const store = openStore();
    store.addSubscriber(dan);
    const forward = (forwardings: unknown): unknown => store.updateSubscriber('1004', { forwardings: forwardings as [] });
    expect(storeError(() => forward([{ kind: 'sometimes', target: '1002' }]), 'bad-field', 'forwardings[0].kind').message).toContain('all, busy or noAnswer');
    storeError(() => forward([{ kind: 'all' }]), 'bad-field', 'forwardings[0].target');
    storeError(() => forward([{ kind: 'all', target: 'bob' }]), 'bad-field', 'forwardings[0].target');
    storeError(() => forward([{ kind: 'all', target: '1004' }]), 'bad-field', 'forwardings[0].target');
    storeError(() => forward([{ kind: 'busy', target: '1002' }, { kind: 'busy', target: '1003' }]), 'bad-field', 'forwardings[1].kind');
    storeError(() => forward([{ kind: 'noAnswer', target: '1002', delaySeconds: 0 }]), 'bad-field', 'forwardings[0].delaySeconds');
    storeError(() => forward([{ kind: 'all', target: '1002', delaySeconds: 5 }]), 'bad-field', 'forwardings[0].delaySeconds');
    storeError(() => forward('1002'), 'bad-field', 'forwardings');
  });
});

describe('SqliteStore roles', () => {
  it('seeds the default roles once and keeps administrators\' changes', () => {
    const store = SqliteStore.open(':memory:', { realm: REALM });
    expect(seedDefaults(store).map((r) => r.name)).toEqual(['Zoom PSI User', 'Standard']);
    store.putRole({ name: 'Standard', zoomPsi: false, description: 'changed' });
    expect(seedDefaults(store)).toEqual([]);
    expect(store.listRoles()).toEqual([
      { name: 'Standard', zoomPsi: false, description: 'changed' },
      { name: 'Zoom PSI User', zoomPsi: true, description: expect.stringContaining('Zoom') },
    ]);
  });

  it('puts, updates and removes roles; a role in use or unknown cannot be removed', () => {
    const store = openStore();
    expect(store.putRole({ name: 'Gold', zoomPsi: true, description: '' })).toEqual({ name: 'Gold', zoomPsi: true, description: '' });
    store.putRole({ name: 'Gold', zoomPsi: false, description: 'no Zoom' });
    expect(store.listRoles().find((r) => r.name === 'Gold')).toEqual({ name: 'Gold', zoomPsi: false, description: 'no Zoom' });
    store.addSubscriber({ ...dan, role: 'Gold' });
    expect(storeError(() => store.removeRole('Gold'), 'role-in-use', 'name').message).toContain('1004');
    store.updateSubscriber('1004', { role: null });
    store.removeRole('Gold');
    storeError(() => store.removeRole('Gold'), 'not-found', 'name');
    storeError(() => store.putRole({ name: '', zoomPsi: true, description: '' }), 'bad-field', 'name');
    storeError(() => store.putRole({ name: 'X', zoomPsi: 'yes' as unknown as boolean, description: '' }), 'bad-field', 'zoomPsi');
  });
});

describe('SqliteStore MBG entry', () => {
  const entry = { address: '192.0.2.10', publicFqdn: 'mbg.example.com', account: 'mbg', sharedSecret: 'shared-secret-1' };

  it('holds at most one entry: set replaces, null clears', () => {
    const store = openStore();
    expect(store.getMbg()).toBeNull();
    store.setMbg(entry);
    expect(store.getMbg()).toEqual(entry);
    store.setMbg({ ...entry, address: 'gw.example.com' });
    expect(store.getMbg()).toEqual({ ...entry, address: 'gw.example.com' });
    store.setMbg(null);
    expect(store.getMbg()).toBeNull();
  });

  it('rejects an unusable entry', () => {
    const store = openStore();
    storeError(() => store.setMbg({ ...entry, address: 'not an address!' }), 'bad-field', 'address');
    storeError(() => store.setMbg({ ...entry, publicFqdn: '' }), 'bad-field', 'publicFqdn');
    storeError(() => store.setMbg({ ...entry, account: 'a:b' }), 'bad-field', 'account');
    storeError(() => store.setMbg({ ...entry, sharedSecret: 'short' }), 'bad-field', 'sharedSecret');
    expect(store.getMbg()).toBeNull();
  });
});

describe('SqliteStore allow-list', () => {
  it('adds canonical CIDRs, lists them, removes by id without reusing ids', () => {
    const store = openStore();
    const first = store.addAllowListEntry('10.0.0.0/8', 'office');
    const second = store.addAllowListEntry('2001:DB8:0:0::/32', '');
    expect(first).toEqual({ id: 1, cidr: '10.0.0.0/8', comment: 'office' });
    expect(second.cidr).toBe('2001:db8::/32');
    // IPv4-mapped IPv6 is the IPv4 block: stored, and deduplicated, as such.
    expect(storeError(() => store.addAllowListEntry('::ffff:10.0.0.0/104', ''), 'duplicate-cidr', 'cidr').message).toContain('entry 1');
    store.removeAllowListEntry(second.id);
    expect(store.addAllowListEntry('127.0.0.1/32', 'gateway').id).toBe(3);
    expect(store.listAllowList().map((e) => e.cidr)).toEqual(['10.0.0.0/8', '127.0.0.1/32']);
    storeError(() => store.removeAllowListEntry(2), 'not-found', 'id');
    storeError(() => store.removeAllowListEntry(0), 'bad-field', 'id');
  });

  it('rejects bad CIDRs naming the field "cidr"', () => {
    const store = openStore();
    for (const cidr of ['10.0.0.0/33', '10.0.0.0', '10.0.0.1/8', 'fe80::/129', 'example.com/24', '10.0.0.0/-1', '10.0.0.0/08']) {
      expect(storeError(() => store.addAllowListEntry(cidr, ''), 'bad-cidr', 'cidr').message.length).toBeGreaterThan(10);
    }
    expect(storeError(() => store.addAllowListEntry('10.0.0.1/8', ''), 'bad-cidr', 'cidr').message).toContain('10.0.0.0/8');
    storeError(() => store.addAllowListEntry('10.0.0.0/8', 'x'.repeat(201)), 'bad-field', 'comment');
  });
});

describe('SqliteStore bindings', () => {
  it('replaces an AoR\'s bindings atomically, keeps all fields, reaps expired ones', () => {
    const store = openStore();
    const desk = binding('1004', 'sip:1004@10.0.0.1', { q: 0.5, expiresAt: 1_000 });
    const mobile = binding('1004', 'sip:1004@10.0.0.2;transport=tcp', {
      q: 1, expiresAt: 5_000, instanceId: '<urn:uuid:00000000-0000-0000-0000-000000000001>', regId: 1,
      path: ['<sip:gw1.example.com;lr>', '<sip:gw2.example.com;lr>'], transport: 'tcp',
    });
    store.replaceBindings('1004', [desk, mobile]);
    store.replaceBindings('1002', [binding('1002', 'sip:1002@10.0.0.3', { expiresAt: 9_000 })]);
    expect(store.bindings('1004')).toEqual([mobile, desk]);
    expect(store.allBindings()).toHaveLength(3);
    store.replaceBindings('1004', [mobile]);
    expect(store.bindings('1004')).toEqual([mobile]);
    expect(store.reapBindings(5_000)).toBe(1);
    expect(store.allBindings().map((b) => b.aor)).toEqual(['1002']);
    store.replaceBindings('1002', []);
    expect(store.allBindings()).toEqual([]);
  });
});

describe('SqliteStore opening', () => {
  it('refuses an empty realm and reports the schema version', () => {
    expect(() => SqliteStore.open(':memory:', { realm: '' })).toThrow(StoreError);
    const store = SqliteStore.open(':memory:', { realm: REALM });
    expect(store.schemaVersion).toBe(2);
    expect(store.realm).toBe(REALM);
    store.close();
    store.close();
  });
});
