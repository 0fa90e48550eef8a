import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLabProcess, type LabProcess } from './lab-process.js';
import { leaseLoopbackAddress } from './loopback.js';

/** The demo users `npm run lab` makes (its README's): the attacks aim at them, the interop clients sign in as them. */
export const ALICE = { user: '1001', password: 'alice-1001', name: 'Alice Martin' };
export const BOB = { user: '1002', password: 'bob-1002', name: 'Bob Durand' };
export const CAROL = { user: '1003', password: 'carol-1003', name: 'Carol Petit' };

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = unknown>(): T;
}

export interface LabUnderTest {
  /** Where sets reach the gateway (SIP 5060/5061, WSS 8443). */
  host: string;
  /** The site's LAN: the pbx (5070, API 8070), the gateway's pbx side and admin pages (9080). */
  internal: string;
  process: LabProcess;
  /** An HTTPS request trusting the lab's CA, from `from` when given; `token: null` sends none. */
  https(url: string, options?: { method?: string; token?: string | null; headers?: Record<string, string>; body?: string; from?: string }): Promise<HttpAnswer>;
  /** GET on the admin pages with the lab's own admin token. */
  admin<T = unknown>(path: string): Promise<T>;
  close(): Promise<void>;
}

/**
 * The lab exactly as `npm run lab` starts it (a process of its own, default settings), on two
 * loopback addresses of this test file's own: the sets' side and the site LAN. What it leaves
 * in its data folder (tokens, certificates) is read as an operator would.
 */
export async function startLabUnderTest(extraArgs: string[] = []): Promise<LabUnderTest> {
  const host = await leaseLoopbackAddress();
  const internal = await leaseLoopbackAddress();
  const dataDir = mkdtempSync(join(tmpdir(), 'psi-lab-under-test-'));
  const lab = startLabProcess(dataDir, ['--host', host, '--internal-host', internal, ...extraArgs]);
  try {
    await lab.ready;
  } catch (e) {
    await lab.stop();
    throw e;
  }
  const https: LabUnderTest['https'] = (url, options = {}) => new Promise((resolve, reject) => {
    const token = options.token === undefined ? undefined : options.token;
    const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...options.headers };
    const req = request(url, { method: options.method ?? 'GET', ca: lab.ca(), headers, agent: false, localAddress: options.from }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body) as T }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
  return {
    host, internal, process: lab, https,
    admin: async <T>(path: string) => {
      const answer = await https(`https://${internal}:9080${path}`, { token: lab.adminToken() });
      if (answer.status !== 200) throw new Error(`admin GET ${path}: ${answer.status} ${answer.body}`);
      return answer.json<T>();
    },
    close: async () => {
      await lab.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
