import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

/**
 * Append only: a database in the field has run every migration up to its version, so an
 * applied migration is never edited — a change is a new, higher-numbered one.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'subscribers, forwardings, roles, MBG entry, allow-list, bindings',
    sql: `
      -- HA1s are only valid for the realm they were computed with: the store refuses to open
      -- a database under another realm rather than answer every digest with a wrong hash.
      CREATE TABLE store_settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;

      CREATE TABLE roles (
        name        TEXT PRIMARY KEY,
        zoom_psi    INTEGER NOT NULL DEFAULT 0 CHECK (zoom_psi IN (0, 1)),
        description TEXT NOT NULL DEFAULT ''
      ) STRICT;

      CREATE TABLE subscribers (
        extension   TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        email       TEXT NOT NULL UNIQUE COLLATE NOCASE,
        ha1_md5     TEXT NOT NULL,
        ha1_sha256  TEXT NOT NULL,
        role        TEXT REFERENCES roles(name) ON DELETE RESTRICT,
        dnd_allowed INTEGER NOT NULL DEFAULT 1 CHECK (dnd_allowed IN (0, 1)),
        dnd_active  INTEGER NOT NULL DEFAULT 0 CHECK (dnd_active IN (0, 1)),
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      ) STRICT;
      CREATE INDEX subscribers_by_role ON subscribers(role);

      CREATE TABLE forwardings (
        extension     TEXT NOT NULL REFERENCES subscribers(extension) ON DELETE CASCADE,
        kind          TEXT NOT NULL CHECK (kind IN ('all', 'busy', 'noAnswer')),
        target        TEXT NOT NULL,
        delay_seconds INTEGER,
        PRIMARY KEY (extension, kind)
      ) STRICT;

      CREATE TABLE mbg (
        id            INTEGER PRIMARY KEY CHECK (id = 1),
        address       TEXT NOT NULL,
        public_fqdn   TEXT NOT NULL,
        account       TEXT NOT NULL,
        shared_secret TEXT NOT NULL,
        updated_at    TEXT NOT NULL
      ) STRICT;

      -- AUTOINCREMENT: an id, once removed, is never handed out again, so a stale
      -- "allow-list remove 3" cannot delete an unrelated newer entry.
      CREATE TABLE allow_list (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        cidr    TEXT NOT NULL UNIQUE,
        comment TEXT NOT NULL DEFAULT ''
      ) STRICT;

      CREATE TABLE bindings (
        aor         TEXT NOT NULL,
        contact     TEXT NOT NULL,
        expires_at  INTEGER NOT NULL,
        q           REAL NOT NULL,
        call_id     TEXT NOT NULL,
        cseq        INTEGER NOT NULL,
        instance_id TEXT,
        reg_id      INTEGER,
        path        TEXT NOT NULL DEFAULT '[]',
        flow_id     TEXT NOT NULL,
        source      TEXT NOT NULL,
        transport   TEXT NOT NULL,
        user_agent  TEXT NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (aor, contact)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX bindings_by_expiry ON bindings(expires_at);
    `,
  },
  {
    version: 2,
    description: 'site networks: where on-site phones may reach the pbx directly',
    sql: `
      -- Besides its MBG, the pbx hears SIP only from these networks (its LAN of desk phones).
      CREATE TABLE site_networks (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        cidr    TEXT NOT NULL UNIQUE,
        comment TEXT NOT NULL DEFAULT ''
      ) STRICT;
    `,
  },
];

/**
 * Brings the schema up to the newest migration, all pending ones in one transaction: a
 * crash half-way leaves the previous version intact, never a half-migrated database.
 * Returns the versions applied now (empty when already current).
 */
export function applyMigrations(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at  TEXT NOT NULL
  ) STRICT`);
  const run = db.transaction((): number[] => {
    const row = db.prepare('SELECT MAX(version) AS version FROM schema_migrations').get() as { version: number | null };
    const current = row.version ?? 0;
    const newest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
    if (current > newest) {
      throw new Error(`the database schema is version ${current}, newer than this pbx knows (${newest}): run a newer psi-lab`);
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)');
    const applied: number[] = [];
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      record.run(migration.version, migration.description, new Date().toISOString());
      applied.push(migration.version);
    }
    return applied;
  });
  // IMMEDIATE: two processes opening a fresh file at once must not both migrate it.
  return run.immediate();
}

/** The version the database is at (0 before any migration). */
export function schemaVersion(db: Database.Database): number {
  const row = db.prepare('SELECT MAX(version) AS version FROM schema_migrations').get() as { version: number | null } | undefined;
  return row?.version ?? 0;
}
