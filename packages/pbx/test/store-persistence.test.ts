import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { seedDefaults } from '../src/store/seed.js';
import { MIGRATIONS, applyMigrations } from '../src/store/migrations.js';

const REALM = 'psi-lab';
const directory = mkdtempSync(join(tmpdir(), 'psi-pbx-store-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const storeModule = fileURLToPath(new URL('../src/store/sqlite-store.ts', import.meta.url));
const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));

function migrationRows(path: string): Array<{ version: number }> {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>;
  } finally {
    db.close();
  }
}

describe('SqliteStore on a file', () => {
  it('keeps every table across close and reopen, migrating only once', () => {
    const path = join(directory, 'reopen.db');
    const first = SqliteStore.open(path, { realm: REALM });
    seedDefaults(first);
    first.addSubscriber({ extension: '1004', name: 'Dan', email: 'dan@example.com', password: 'dan-secret-1', role: 'Zoom PSI User' });
    first.updateSubscriber('1004', { dndActive: true, forwardings: [{ kind: 'busy', target: '1002' }] });
    first.setMbg({ address: '127.0.0.1', publicFqdn: 'mbg.example.com', account: 'mbg', sharedSecret: 'shared-secret-1' });
    first.addAllowListEntry('127.0.0.1/32', 'gateway');
    first.replaceBindings('1004', [{
      aor: '1004', contact: 'sip:1004@127.0.0.1:5062', expiresAt: Date.now() + 60_000, q: 1, callId: 'c1', cseq: 7,
      instanceId: null, regId: null, path: ['<sip:mbg.example.com;lr>'], flowId: 'udp:x', source: '127.0.0.1:5062', transport: 'udp',
      userAgent: 'softphone', updatedAt: 1,
    }]);
    const ha1 = first.ha1('1004', 'SHA-256');
    first.close();

    const second = SqliteStore.open(path, { realm: REALM });
    expect(second.getSubscriber('1004')).toMatchObject({ dndActive: true, forwardings: [{ kind: 'busy', target: '1002' }], role: 'Zoom PSI User' });
    expect(second.ha1('1004', 'SHA-256')).toBe(ha1);
    expect(second.listRoles()).toHaveLength(2);
    expect(second.getMbg()?.sharedSecret).toBe('shared-secret-1');
    expect(second.listAllowList()).toEqual([{ id: 1, cidr: '127.0.0.1/32', comment: 'gateway' }]);
    expect(second.bindings('1004')[0]).toMatchObject({ cseq: 7, path: ['<sip:mbg.example.com;lr>'] });
    second.close();
    SqliteStore.open(path, { realm: REALM }).close();

    expect(migrationRows(path)).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
    const db = new Database(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(applyMigrations(db)).toEqual([]);
    db.close();
  });

  it('refuses a database whose HA1s belong to another realm', () => {
    const path = join(directory, 'realm.db');
    const store = SqliteStore.open(path, { realm: REALM });
    store.addSubscriber({ extension: '1001', name: 'Alice', email: 'alice@example.com', password: 'alice-1001' });
    store.close();
    expect(() => SqliteStore.open(path, { realm: 'other' })).toThrow(/realm "psi-lab", not "other"/);
    SqliteStore.open(path, { realm: REALM }).close();
  });

  it('refuses a database migrated by a newer version, and rolls back a failing migration', () => {
    const path = join(directory, 'newer.db');
    SqliteStore.open(path, { realm: REALM }).close();
    const db = new Database(path);
    db.prepare("INSERT INTO schema_migrations (version, description, applied_at) VALUES (99, 'future', 'now')").run();
    expect(() => applyMigrations(db)).toThrow(/version 99, newer than this pbx knows/);
    db.prepare('DELETE FROM schema_migrations WHERE version = 99').run();
    const newest = Math.max(...MIGRATIONS.map((m) => m.version));
    const broken = [...MIGRATIONS, { version: newest + 1, description: 'ok', sql: 'CREATE TABLE extra (x)' }, { version: newest + 2, description: 'bad', sql: 'NOT SQL' }];
    expect(() => applyMigrations(db, broken)).toThrow();
    // All or nothing: the first new migration's table is not left behind by the second's failure.
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'extra'").pluck().get()).toBe(0);
    expect(db.prepare('SELECT max(version) FROM schema_migrations').pluck().get()).toBe(newest);
    db.close();
  });

  it('keeps a committed change when the writing process is killed with SIGKILL', async () => {
    const path = join(directory, 'killed.db');
    const script = join(directory, 'write-then-wait.mts');
    writeFileSync(script, `
      import { SqliteStore } from ${JSON.stringify(storeModule)};
      const store = SqliteStore.open(process.argv[2], { realm: 'psi-lab' });
      store.addSubscriber({ extension: '1007', name: 'Killed', email: 'killed@example.com', password: 'killed-secret' });
      store.addAllowListEntry('192.0.2.0/24', 'written before SIGKILL');
      process.stdout.write('committed\\n');
      setInterval(() => undefined, 60_000);
    `);
    // Its own process group: tsx runs the script in a child node, and both must die at once.
    const child = spawn(tsx, [script, path], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        output += d.toString();
        if (output.includes('committed')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`writer exited (${code}) before committing: ${output}`)));
    });
    const exited = once(child, 'exit');
    process.kill(-(child.pid as number), 'SIGKILL');
    const [, signal] = await exited;
    expect(signal).toBe('SIGKILL');
    // The change was never checkpointed into the main file: it lives in the WAL, and must be recovered from it.
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);

    const store = SqliteStore.open(path, { realm: REALM });
    expect(store.getSubscriber('1007')?.name).toBe('Killed');
    expect(store.listAllowList()).toEqual([{ id: 1, cidr: '192.0.2.0/24', comment: 'written before SIGKILL' }]);
    store.close();
  });
});
