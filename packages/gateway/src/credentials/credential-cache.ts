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
  /** The pbx management API base, e.g. http://127.0.0.1:8070. */
  api: string;
  /** The MBG entry's account and shared secret on the pbx. */
  account: string;
  secret: string;
  refreshMs: number;
  /** ICP-side overrides by set-side user (default: the set-side credentials). */
  devices?: Array<{ user: string; icpUser?: string; icpPassword?: string }>;
  logger?: Logger;
  /** Injectable for tests: by default the global fetch. */
  fetch?: typeof fetch;
  now?: () => number;
}

/** A single user looked up on a miss is asked for at most this often. */
const MISS_RETRY_MS = 5_000;
const LOOKUPS_PER_SECOND = 20;

/**
 * The set-side credentials (HA1) the gateway checks sets against, read from the pbx with the
 * gateway's account and shared secret, kept in memory and refreshed periodically. A user not in
 * the cache is looked up on its own (a subscriber added a moment ago can register at once).
 */
export class CredentialCache {
  private readonly byUser = new Map<string, SetCredential>();
  private readonly misses = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  refreshedAt: number | undefined;
  lastError: string | undefined;
  /** The pbx's realm, learned from its credentials. */
  realm: string | undefined;
  /** False while the pbx's API does not answer: an unknown user may then be one we cannot check. */
  reachable = true;
  private lookups = { windowStart: 0, count: 0 };
  private lastFullRetry: number | undefined;

  constructor(private readonly options: CredentialCacheOptions) {
    this.fetch = options.fetch ?? fetch;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.byUser.size;
  }

  /** First load, then refresh every `refreshMs`. Resolves after the first attempt (failure is logged, not thrown). */
  async start(): Promise<void> {
    // The pbx may be a moment behind the gateway (both starting): a few quick tries first.
    for (let attempt = 0; attempt < 4 && !(await this.refresh()); attempt++) await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
    this.timer = setInterval(() => void this.refresh(), this.options.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Reload every credential; on failure the previous ones stay in use. */
  async refresh(): Promise<boolean> {
    try {
      const list = await this.get('/api/gateway/credentials');
      this.byUser.clear();
      for (const c of list) this.byUser.set(c.extension, c);
      if (list[0]) this.realm = list[0].realm;
      this.refreshedAt = this.now();
      this.lastError = undefined;
      this.reachable = true;
      this.options.logger?.debug({ credentials: list.length }, 'set credentials refreshed from the pbx');
      return true;
    } catch (e) {
      this.lastError = (e as Error).message;
      this.reachable = false;
      this.options.logger?.error({ err: this.lastError, api: this.options.api }, 'cannot read set credentials from the pbx');
      return false;
    }
  }

  /** HA1 of a set-side user for a digest algorithm, undefined for a user the pbx does not know. */
  ha1(user: string, algorithm: DigestAlgorithm): string | undefined {
    const c = this.byUser.get(user);
    if (!c) return undefined;
    if (algorithm === 'MD5' || algorithm === 'MD5-sess') return c.ha1Md5;
    if (algorithm === 'SHA-256' || algorithm === 'SHA-256-sess') return c.ha1Sha256;
    return undefined;
  }

  /** Like ha1, but asks the pbx about a user it has not heard of (rate-limited per user). */
  async ha1Fresh(user: string, algorithm: DigestAlgorithm): Promise<string | undefined> {
    // Nothing cached because the pbx could not be read: try the whole list again (at most every 5 s).
    if (this.byUser.size === 0 && !this.reachable && this.now() - (this.lastFullRetry ?? 0) > MISS_RETRY_MS) {
      this.lastFullRetry = this.now();
      await this.refresh();
    }
    if (!this.byUser.has(user) && /^[\w.+-]{1,64}$/.test(user)) {
      const last = this.misses.get(user);
      if ((last === undefined || this.now() - last > MISS_RETRY_MS) && this.takeLookup()) {
        this.misses.set(user, this.now());
        if (this.misses.size > 10_000) this.misses.clear();
        try {
          const [c] = await this.get(`/api/gateway/credentials?extension=${encodeURIComponent(user)}`);
          if (c) this.byUser.set(c.extension, c);
          this.reachable = true;
        } catch (e) {
          // 404: the pbx does not know the user. Anything else: the pbx could not be asked.
          this.reachable = /: 404 /.test((e as Error).message);
        }
      }
    }
    return this.ha1(user, algorithm);
  }

  /** At most LOOKUPS_PER_SECOND lookups of unknown users reach the pbx: made-up names cost it nothing more. */
  private takeLookup(): boolean {
    const now = this.now();
    if (now - this.lookups.windowStart >= 1000) this.lookups = { windowStart: now, count: 0 };
    return ++this.lookups.count <= LOOKUPS_PER_SECOND;
  }

  /** The pair the gateway answers the pbx's challenges with for this set (ICP-side credentials). */
  icpCredentials(user: string): Credentials | undefined {
    const device = this.options.devices?.find((d) => d.user === user);
    if (device?.icpPassword !== undefined) return { username: device.icpUser ?? user, password: device.icpPassword };
    const c = this.byUser.get(user);
    if (!c) return undefined;
    return { username: device?.icpUser ?? user, ha1: c.ha1Md5, algorithm: 'MD5' };
  }

  private async get(path: string): Promise<SetCredential[]> {
    const url = new URL(path, this.options.api);
    const basic = Buffer.from(`${this.options.account}:${this.options.secret}`).toString('base64');
    const response = await this.fetch(url, { headers: { authorization: `Basic ${basic}` }, signal: AbortSignal.timeout(10_000) });
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      throw new Error(`GET ${url.pathname}: ${response.status} ${text.slice(0, 200)}`);
    }
    const body = (await response.json()) as unknown;
    if (!Array.isArray(body)) throw new Error(`GET ${url.pathname}: expected a list of credentials`);
    return body.filter(isCredential);
  }
}

function isCredential(v: unknown): v is SetCredential {
  const c = v as SetCredential;
  return typeof c === 'object' && c !== null && typeof c.extension === 'string' && typeof c.realm === 'string'
    && typeof c.ha1Md5 === 'string' && typeof c.ha1Sha256 === 'string';
}
