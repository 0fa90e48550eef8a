import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { Credentials, DigestAlgorithm } from '@psi-lab/sip';
import type { Logger } from 'pino';

/** One set's credentials as the pbx hands them to its gateway: hashes only, never a password. */
export interface SetCredential {
  extension: string;
  realm: string;
  ha1Md5: string;
  ha1Sha256: string;
}

export interface CredentialCacheOptions {
  /** The pbx management API base: https only, e.g. https://127.0.0.1:8070. */
  api: string;
  /** The CA (PEM file) the API's certificate must chain to; default: the system's CAs. */
  caFile?: string;
  /** Connect from this address (the gateway's LAN side): the pbx answers only its MBG's address. */
  localAddress?: string;
  /** The MBG entry's account and shared secret on the pbx. */
  account: string;
  secret: string;
  /** How often to ask the pbx whether anything changed (a conditional GET). */
  refreshMs: number;
  /** ICP-side overrides by set-side user (default: the set-side credentials). */
  devices?: Array<{ user: string; icpUser?: string; icpPassword?: string }>;
  logger?: Logger;
  now?: () => number;
}

/** What one GET of the credentials came back with. */
type Fetched = { status: 200; etag: string | undefined; list: SetCredential[] } | { status: 304 };

const REQUEST_TIMEOUT_MS = 10_000;
/**
 * After the pbx refused our credentials (a wrong account or secret, or its guess limiter), the
 * scheduled refresh waits this long: every 2 s it would lock this gateway out of the pbx's API
 * for an hour within 20 s, and go on failing after the secret is fixed.
 */
const REFUSED_BACKOFF_MS = 300_000;

/**
 * The set-side credentials (HA1) the gateway checks sets against, read from the pbx over TLS
 * with the gateway's account and shared secret, and kept in memory. Every `refreshMs` the cache
 * asks the pbx, with the ETag of what it holds, whether anything changed: an unchanged list is
 * a 304 with no hashes on the wire, a changed one (a subscriber added a moment ago) arrives
 * within seconds. Lookups never wait on the pbx: a known and an unknown user cost the same, so
 * timing tells an attacker nothing about which extensions exist.
 */
export class CredentialCache {
  private readonly byUser = new Map<string, SetCredential>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly ca: Buffer | undefined;
  private etag: string | undefined;
  private loaded = false;
  private refreshing: Promise<boolean> | undefined;
  private refusedUntil = 0;
  refreshedAt: number | undefined;
  lastError: string | undefined;
  /** The pbx's realm, learned from its credentials. */
  realm: string | undefined;

  constructor(private readonly options: CredentialCacheOptions) {
    this.now = options.now ?? Date.now;
    if (!/^https:\/\//i.test(options.api)) throw new Error(`the pbx API must be an https:// URL (it hands out set credentials), not ${options.api}`);
    try {
      this.ca = options.caFile === undefined ? undefined : readFileSync(options.caFile);
    } catch (e) {
      throw new Error(`cannot read pbx.apiCaFile ${options.caFile}: ${(e as Error).message}`, { cause: e });
    }
  }

  get size(): number {
    return this.byUser.size;
  }

  /** False until the first list arrived: before it, nobody can be checked (the gateway answers 503, counting nothing). */
  get ready(): boolean {
    return this.loaded;
  }

  /** First load, then a conditional refresh every `refreshMs`. Resolves after the first attempts (failure is logged, not thrown). */
  async start(): Promise<void> {
    // The pbx may be a moment behind the gateway (both starting): a few quick tries first.
    for (let attempt = 0; attempt < 4 && !(await this.refresh()); attempt++) await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
    this.timer = setInterval(() => {
      if (this.now() >= this.refusedUntil) void this.refresh();
    }, this.options.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Ask the pbx for what changed; on failure the credentials held stay in use. One request at a time. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.fetchAndApply().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** HA1 of a set-side user for a digest algorithm, undefined for a user the pbx does not know. */
  ha1(user: string, algorithm: DigestAlgorithm): string | undefined {
    const c = this.byUser.get(user);
    if (!c) return undefined;
    if (algorithm === 'MD5' || algorithm === 'MD5-sess') return c.ha1Md5;
    if (algorithm === 'SHA-256' || algorithm === 'SHA-256-sess') return c.ha1Sha256;
    return undefined;
  }

  /** The pair the gateway answers the pbx's challenges with for this set (ICP-side credentials). */
  icpCredentials(user: string): Credentials | undefined {
    const device = this.options.devices?.find((d) => d.user === user);
    if (device?.icpPassword !== undefined) return { username: device.icpUser ?? user, password: device.icpPassword };
    const c = this.byUser.get(user);
    if (!c) return undefined;
    return { username: device?.icpUser ?? user, ha1: c.ha1Md5, algorithm: 'MD5' };
  }

  private async fetchAndApply(): Promise<boolean> {
    try {
      const fetched = await this.get('/api/gateway/credentials');
      if (fetched.status === 200) {
        this.byUser.clear();
        for (const c of fetched.list) this.byUser.set(c.extension, c);
        if (fetched.list[0]) this.realm = fetched.list[0].realm;
        this.etag = fetched.etag;
        this.loaded = true;
        this.options.logger?.debug({ credentials: fetched.list.length }, 'set credentials read from the pbx');
      }
      this.refreshedAt = this.now();
      if (this.lastError !== undefined) this.options.logger?.info({ api: this.options.api }, 'the pbx API answers again');
      this.lastError = undefined;
      this.refusedUntil = 0;
      return true;
    } catch (e) {
      const message = (e as Error).message;
      const refused = /: (401|403|429) /.test(message);
      if (refused) this.refusedUntil = this.now() + REFUSED_BACKOFF_MS;
      if (message !== this.lastError) {
        this.options.logger?.error({ err: message, api: this.options.api, ...(refused ? { retryInSeconds: REFUSED_BACKOFF_MS / 1000 } : {}) },
          refused ? 'the pbx refuses the MBG account and secret (pbx.account, pbx.secret): asking again in 5 minutes' : 'cannot read set credentials from the pbx');
      }
      this.lastError = message;
      return false;
    }
  }

  private get(path: string): Promise<Fetched> {
    const url = new URL(path, this.options.api);
    const basic = Buffer.from(`${this.options.account}:${this.options.secret}`).toString('base64');
    const headers: Record<string, string> = { authorization: `Basic ${basic}`, accept: 'application/json' };
    if (this.etag && this.loaded) headers['if-none-match'] = this.etag;
    return new Promise<Fetched>((resolve, reject) => {
      const req = request(url, { method: 'GET', headers, ca: this.ca, timeout: REQUEST_TIMEOUT_MS, localAddress: this.options.localAddress, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          if (status === 304) return resolve({ status: 304 });
          if (status !== 200) return reject(new Error(`GET ${url.pathname}: ${status} ${text.slice(0, 200)}`));
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            return reject(new Error(`GET ${url.pathname}: the answer is not JSON`));
          }
          if (!Array.isArray(body)) return reject(new Error(`GET ${url.pathname}: expected a list of credentials`));
          const etag = res.headers.etag;
          resolve({ status: 200, etag: typeof etag === 'string' ? etag : undefined, list: body.filter(isCredential) });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${url.pathname}: no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
      req.on('error', (e) => reject(new Error(`GET ${url.pathname}: ${describe(e)}`, { cause: e })));
      req.end();
    });
  }
}

function describe(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code} (${error.message})` : error.message;
}

function isCredential(v: unknown): v is SetCredential {
  const c = v as SetCredential;
  return typeof c === 'object' && c !== null && typeof c.extension === 'string' && typeof c.realm === 'string'
    && typeof c.ha1Md5 === 'string' && typeof c.ha1Sha256 === 'string';
}
