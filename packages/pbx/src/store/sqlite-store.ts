import Database from 'better-sqlite3';
import { CidrError, formatCidr, parseCidr } from '@psi-lab/sip';
import { applyMigrations, schemaVersion as readSchemaVersion } from './migrations.js';
import { computeHa1 } from './password-policy.js';
import { toBinding, toSubscriber, type BindingRow, type ForwardingRow, type SubscriberRow } from './rows.js';
import { bindRealm } from './store-settings.js';
import {
  StoreError,
  type AllowListEntry, type Binding, type CloudLinkRole, type HashAlgorithm,
  type MbgEntry, type NewSubscriber, type PbxStore, type SiteNetwork, type Subscriber, type SubscriberPatch,
} from './types.js';
import {
  validateEmail, validateExtension, validateFlag, validateForwardings, validateMbg, validatePassword, validateRole, validateText,
} from './validation.js';

export interface SqliteStoreOptions {
  /** The digest realm every HA1 is computed for. */
  realm: string;
  /**
   * FULL (default) fsyncs the WAL on every commit, so a committed change survives even an OS
   * crash or power loss. NORMAL already survives kill -9 of the process (the WAL is in the
   * OS's hands) and is much faster for the registrar; benchmarks may choose it.
   */
  synchronous?: 'FULL' | 'NORMAL';
}

const SUBSCRIBER_COLUMNS = 'extension, name, email, role, dnd_allowed, dnd_active, created_at, updated_at';
// Numeric order for numeric extensions: 99 before 1001.
const BY_EXTENSION = 'ORDER BY length(extension), extension';

/** The two lists of CIDRs the pbx keeps, alike but for their table and what the messages call them. */
interface CidrList {
  table: 'allow_list' | 'site_networks';
  /** "is already on the ..." */
  name: string;
  /** "there is no ... 3" */
  entry: string;
}
const ALLOW_LIST: CidrList = { table: 'allow_list', name: 'Allow-List', entry: 'Allow-List entry' };
const SITE_NETWORKS: CidrList = { table: 'site_networks', name: 'site networks', entry: 'site network' };

/** The pbx's data in one SQLite file (WAL), or in memory for tests. */
export class SqliteStore implements PbxStore {
  private readonly statements = new Map<string, Database.Statement>();
  private readonly transaction: Database.Transaction<(work: () => unknown) => unknown>;
  private version = 0;

  private constructor(private readonly db: Database.Database, readonly realm: string) {
    this.transaction = db.transaction((work: () => unknown) => work());
  }

  /** Opens (creating and migrating when needed) the database at `path`, or ':memory:'. */
  static open(path: string, options: SqliteStoreOptions): SqliteStore {
    const realm = validateText(options.realm, 'realm', 128);
    const db = new Database(path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
      db.pragma('foreign_keys = ON');
      // Another process (a second lab, a test) may hold the write lock for a moment.
      db.pragma('busy_timeout = 5000');
      applyMigrations(db);
      bindRealm(db, realm, path);
    } catch (error) {
      db.close();
      throw error;
    }
    return new SqliteStore(db, realm);
  }

  get configVersion(): number {
    return this.version;
  }

  get schemaVersion(): number {
    return readSchemaVersion(this.db);
  }

  // ---- subscribers -------------------------------------------------------------------

  addSubscriber(s: NewSubscriber): Subscriber {
    const extension = validateExtension(s.extension);
    const name = validateText(s.name, 'name', 100);
    const email = validateEmail(s.email);
    const password = validatePassword(s.password, extension);
    const dndAllowed = s.dndAllowed === undefined ? true : validateFlag(s.dndAllowed, 'dndAllowed');
    return this.writeConfig(() => {
      const role = this.checkRole(s.role ?? null);
      if (this.subscriberRow(extension)) {
        throw new StoreError('duplicate-extension', 'extension', `extension ${extension} already exists: choose another extension or change the existing subscriber`);
      }
      this.checkEmailFree(email, extension);
      const now = new Date().toISOString();
      this.sql(`INSERT INTO subscribers (extension, name, email, ha1_md5, ha1_sha256, role, dnd_allowed, dnd_active, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`)
        .run(extension, name, email, computeHa1(extension, this.realm, password, 'MD5'), computeHa1(extension, this.realm, password, 'SHA-256'),
          role, dndAllowed ? 1 : 0, now, now);
      return this.requireSubscriber(extension);
    });
  }

  updateSubscriber(extension: string, patch: SubscriberPatch): Subscriber {
    return this.writeConfig(() => {
      const current = this.subscriberRow(extension);
      if (!current) throw unknownSubscriber(extension);
      const name = patch.name === undefined ? current.name : validateText(patch.name, 'name', 100);
      const email = patch.email === undefined ? current.email : validateEmail(patch.email);
      if (patch.email !== undefined) this.checkEmailFree(email, extension);
      const role = patch.role === undefined ? current.role : this.checkRole(patch.role);
      const dndAllowed = patch.dndAllowed === undefined ? current.dnd_allowed === 1 : validateFlag(patch.dndAllowed, 'dndAllowed');
      // Withdrawing "DND allowed" also switches an active DND off, unless the patch insists.
      const dndActive = patch.dndActive === undefined ? dndAllowed && current.dnd_active === 1 : validateFlag(patch.dndActive, 'dndActive');
      if (dndActive && !dndAllowed) {
        throw new StoreError('bad-field', 'dndActive', `Do not disturb is not allowed for ${extension}: set dndAllowed to true first`);
      }
      const forwardings = patch.forwardings === undefined ? undefined : validateForwardings(extension, patch.forwardings);
      const password = patch.password === undefined ? undefined : validatePassword(patch.password, extension);
      const now = new Date().toISOString();
      this.sql('UPDATE subscribers SET name = ?, email = ?, role = ?, dnd_allowed = ?, dnd_active = ?, updated_at = ? WHERE extension = ?')
        .run(name, email, role, dndAllowed ? 1 : 0, dndActive ? 1 : 0, now, extension);
      if (password !== undefined) {
        this.sql('UPDATE subscribers SET ha1_md5 = ?, ha1_sha256 = ? WHERE extension = ?')
          .run(computeHa1(extension, this.realm, password, 'MD5'), computeHa1(extension, this.realm, password, 'SHA-256'), extension);
      }
      if (forwardings) {
        this.sql('DELETE FROM forwardings WHERE extension = ?').run(extension);
        const insert = this.sql('INSERT INTO forwardings (extension, kind, target, delay_seconds) VALUES (?, ?, ?, ?)');
        for (const f of forwardings) insert.run(extension, f.kind, f.target, f.delaySeconds ?? null);
      }
      return this.requireSubscriber(extension);
    });
  }

  removeSubscriber(extension: string): void {
    this.writeConfig(() => {
      // Its registrations go with it: a removed subscriber must stop receiving calls at once.
      this.sql('DELETE FROM bindings WHERE aor = ?').run(extension);
      if (this.sql('DELETE FROM subscribers WHERE extension = ?').run(extension).changes === 0) throw unknownSubscriber(extension);
    });
  }

  getSubscriber(extension: string): Subscriber | undefined {
    const row = this.subscriberRow(extension);
    if (!row) return undefined;
    const forwardings = this.sql('SELECT * FROM forwardings WHERE extension = ?').all(extension) as ForwardingRow[];
    return toSubscriber(row, forwardings);
  }

  findSubscriberByEmail(email: string): Subscriber | undefined {
    // The column is COLLATE NOCASE: Dan@X and dan@x are the same CloudLink user.
    const row = this.sql('SELECT extension FROM subscribers WHERE email = ?').get(email.trim()) as { extension: string } | undefined;
    return row ? this.getSubscriber(row.extension) : undefined;
  }

  listSubscribers(): Subscriber[] {
    const rows = this.sql(`SELECT ${SUBSCRIBER_COLUMNS} FROM subscribers ${BY_EXTENSION}`).all() as SubscriberRow[];
    const byExtension = new Map<string, ForwardingRow[]>();
    for (const f of this.sql('SELECT * FROM forwardings').all() as ForwardingRow[]) {
      byExtension.set(f.extension, [...(byExtension.get(f.extension) ?? []), f]);
    }
    return rows.map((row) => toSubscriber(row, byExtension.get(row.extension) ?? []));
  }

  ha1(extension: string, algorithm: HashAlgorithm): string | undefined {
    const column = algorithm === 'MD5' ? 'ha1_md5' : 'ha1_sha256';
    const row = this.sql(`SELECT ${column} AS ha1 FROM subscribers WHERE extension = ?`).get(extension) as { ha1: string } | undefined;
    return row?.ha1;
  }

  // ---- roles -------------------------------------------------------------------------

  putRole(role: CloudLinkRole): CloudLinkRole {
    const valid = validateRole(role);
    this.writeConfig(() => this.sql(`INSERT INTO roles (name, zoom_psi, description) VALUES (?, ?, ?)
              ON CONFLICT (name) DO UPDATE SET zoom_psi = excluded.zoom_psi, description = excluded.description`)
      .run(valid.name, valid.zoomPsi ? 1 : 0, valid.description));
    return valid;
  }

  removeRole(name: string): void {
    this.writeConfig(() => {
      if (!this.sql('SELECT 1 FROM roles WHERE name = ?').get(name)) throw new StoreError('not-found', 'name', `there is no role "${name}"`);
      const users = this.sql(`SELECT extension FROM subscribers WHERE role = ? ${BY_EXTENSION}`).pluck().all(name) as string[];
      if (users.length > 0) {
        const shown = users.slice(0, 5).join(', ') + (users.length > 5 ? ', ...' : '');
        throw new StoreError('role-in-use', 'name', `role "${name}" is assigned to ${users.length} subscriber(s) (${shown}): give them another role first`);
      }
      this.sql('DELETE FROM roles WHERE name = ?').run(name);
    });
  }

  listRoles(): CloudLinkRole[] {
    const rows = this.sql('SELECT name, zoom_psi, description FROM roles ORDER BY name').all() as Array<{ name: string; zoom_psi: number; description: string }>;
    return rows.map((r) => ({ name: r.name, zoomPsi: r.zoom_psi === 1, description: r.description }));
  }

  // ---- MBG entry ---------------------------------------------------------------------

  setMbg(entry: MbgEntry | null): void {
    if (entry === null) {
      this.writeConfig(() => this.sql('DELETE FROM mbg').run());
      return;
    }
    const valid = validateMbg(entry);
    this.writeConfig(() => this.sql(`INSERT INTO mbg (id, address, public_fqdn, account, shared_secret, updated_at) VALUES (1, ?, ?, ?, ?, ?)
              ON CONFLICT (id) DO UPDATE SET address = excluded.address, public_fqdn = excluded.public_fqdn,
                account = excluded.account, shared_secret = excluded.shared_secret, updated_at = excluded.updated_at`)
      .run(valid.address, valid.publicFqdn, valid.account, valid.sharedSecret, new Date().toISOString()));
  }

  getMbg(): MbgEntry | null {
    const row = this.sql('SELECT address, public_fqdn, account, shared_secret FROM mbg WHERE id = 1').get() as
      { address: string; public_fqdn: string; account: string; shared_secret: string } | undefined;
    return row ? { address: row.address, publicFqdn: row.public_fqdn, account: row.account, sharedSecret: row.shared_secret } : null;
  }

  // ---- SIP security allow-list -------------------------------------------------------

  addAllowListEntry(cidr: string, comment: string): AllowListEntry {
    return this.addCidr(ALLOW_LIST, cidr, comment);
  }

  removeAllowListEntry(id: number): void {
    this.removeCidr(ALLOW_LIST, id);
  }

  listAllowList(): AllowListEntry[] {
    return this.listCidrs(ALLOW_LIST);
  }

  // ---- site networks -----------------------------------------------------------------

  addSiteNetwork(cidr: string, comment: string): SiteNetwork {
    return this.addCidr(SITE_NETWORKS, cidr, comment);
  }

  removeSiteNetwork(id: number): void {
    this.removeCidr(SITE_NETWORKS, id);
  }

  listSiteNetworks(): SiteNetwork[] {
    return this.listCidrs(SITE_NETWORKS);
  }

  // ---- registrar bindings ------------------------------------------------------------

  bindings(aor: string): Binding[] {
    return (this.sql('SELECT * FROM bindings WHERE aor = ? ORDER BY q DESC, updated_at DESC').all(aor) as BindingRow[]).map(toBinding);
  }

  allBindings(): Binding[] {
    return (this.sql('SELECT * FROM bindings ORDER BY aor, q DESC, updated_at DESC').all() as BindingRow[]).map(toBinding);
  }

  replaceBindings(aor: string, bindings: Binding[]): void {
    this.write(() => {
      this.sql('DELETE FROM bindings WHERE aor = ?').run(aor);
      const insert = this.sql(`INSERT OR REPLACE INTO bindings
        (aor, contact, expires_at, q, call_id, cseq, instance_id, reg_id, path, flow_id, source, transport, user_agent, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      for (const b of bindings) {
        insert.run(aor, b.contact, b.expiresAt, b.q, b.callId, b.cseq, b.instanceId, b.regId, JSON.stringify(b.path),
          b.flowId, b.source, b.transport, b.userAgent, b.updatedAt);
      }
    });
  }

  reapBindings(now: number): number {
    return this.write(() => this.sql('DELETE FROM bindings WHERE expires_at <= ?').run(now).changes);
  }

  close(): void {
    if (!this.db.open) return;
    this.statements.clear();
    this.db.close();
  }

  // ---- internals ---------------------------------------------------------------------

  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  /** IMMEDIATE: take the write lock before reading what the write depends on. */
  private write<T>(work: () => T): T {
    return this.transaction.immediate(work) as T;
  }

  /** A write to the configuration (anything but bindings): `configVersion` moves once it committed. */
  private writeConfig<T>(work: () => T): T {
    const result = this.write(work);
    this.version++;
    return result;
  }

  private addCidr(list: CidrList, cidr: string, comment: string): AllowListEntry {
    let canonical: string;
    try {
      canonical = formatCidr(parseCidr(typeof cidr === 'string' ? cidr.trim() : String(cidr)));
    } catch (error) {
      if (error instanceof CidrError) throw new StoreError('bad-cidr', 'cidr', `cidr ${error.message}`);
      throw error;
    }
    const text = validateText(comment ?? '', 'comment', 200, { allowEmpty: true });
    return this.writeConfig(() => {
      const existing = this.sql(`SELECT id FROM ${list.table} WHERE cidr = ?`).get(canonical) as { id: number } | undefined;
      if (existing) throw new StoreError('duplicate-cidr', 'cidr', `${canonical} is already on the ${list.name} (entry ${existing.id})`);
      const id = Number(this.sql(`INSERT INTO ${list.table} (cidr, comment) VALUES (?, ?)`).run(canonical, text).lastInsertRowid);
      return { id, cidr: canonical, comment: text };
    });
  }

  private removeCidr(list: CidrList, id: number): void {
    if (!Number.isSafeInteger(id) || id < 1) throw new StoreError('bad-field', 'id', `${list.entry} ids are positive whole numbers (got ${id})`);
    const removed = this.writeConfig(() => this.sql(`DELETE FROM ${list.table} WHERE id = ?`).run(id).changes);
    if (removed === 0) throw new StoreError('not-found', 'id', `there is no ${list.entry} ${id}`);
  }

  private listCidrs(list: CidrList): AllowListEntry[] {
    return this.sql(`SELECT id, cidr, comment FROM ${list.table} ORDER BY id`).all() as AllowListEntry[];
  }

  private subscriberRow(extension: string): SubscriberRow | undefined {
    return this.sql(`SELECT ${SUBSCRIBER_COLUMNS} FROM subscribers WHERE extension = ?`).get(extension) as SubscriberRow | undefined;
  }

  private requireSubscriber(extension: string): Subscriber {
    const subscriber = this.getSubscriber(extension);
    if (!subscriber) throw unknownSubscriber(extension);
    return subscriber;
  }

  private checkRole(role: string | null): string | null {
    if (role === null) return null;
    if (typeof role !== 'string') throw new StoreError('bad-field', 'role', 'role must be a role name or null');
    if (!this.sql('SELECT 1 FROM roles WHERE name = ?').get(role)) {
      const known = this.listRoles().map((r) => `"${r.name}"`).join(', ') || 'none yet';
      throw new StoreError('unknown-role', 'role', `there is no role "${role}" (roles: ${known}): create it first or pick an existing one`);
    }
    return role;
  }

  private checkEmailFree(email: string, extension: string): void {
    const owner = this.sql('SELECT extension FROM subscribers WHERE email = ? AND extension <> ?').get(email, extension) as { extension: string } | undefined;
    if (owner) throw new StoreError('duplicate-email', 'email', `email ${email} is already used by subscriber ${owner.extension}: each subscriber needs its own e-mail`);
  }
}

function unknownSubscriber(extension: string): StoreError {
  return new StoreError('unknown-subscriber', 'extension', `there is no subscriber with extension ${extension}`);
}
