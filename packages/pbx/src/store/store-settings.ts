import type Database from 'better-sqlite3';

/**
 * HA1s hash the realm in: a database opened under another realm would answer every digest
 * with a wrong hash. Refuse, unless it holds no subscribers yet.
 */
export function bindRealm(db: Database.Database, realm: string, path: string): void {
  const stored = db.prepare("SELECT value FROM store_settings WHERE key = 'realm'").pluck().get() as string | undefined;
  if (stored === realm) return;
  const subscribers = db.prepare('SELECT count(*) FROM subscribers').pluck().get() as number;
  if (stored !== undefined && subscribers > 0) {
    throw new Error(`${path} holds the SIP credentials of ${subscribers} subscriber(s) for realm "${stored}", not "${realm}": open it with realm "${stored}" (HA1s cannot be recomputed without the passwords)`);
  }
  db.prepare("INSERT INTO store_settings (key, value) VALUES ('realm', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(realm);
}
