/**
 * Attacks 1 and 10 of SECURITY.md: the administration and the set credentials.
 *   - a stranger reaching the sets' HTTPS port looks for the status page, the API, /metrics,
 *     and tries to lift a block;
 *   - a guesser tries tokens on the admin pages and on the pbx API;
 *   - a browser page posts a form to the pbx API;
 *   - someone who read the MBG secret asks the pbx for every user's HA1, from elsewhere than the
 *     MBG, and over plain HTTP; the CA's private key is looked for beside the certificates.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { leaseLoopbackAddress, startLabUnderTest, type LabUnderTest } from '@psi-lab/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let lab: LabUnderTest;
beforeAll(async () => {
  lab = await startLabUnderTest();
}, 60_000);
afterAll(async () => {
  await lab?.close();
});

describe('attack 1: administration is never anonymous', () => {
  it('the sets\' HTTPS port serves WSS and /healthz, nothing administrative, with or without a token', async () => {
    for (const path of ['/', '/api/status', '/api/registrations', '/api/blocks', '/metrics']) {
      expect((await lab.https(`https://${lab.host}:8443${path}`)).status, path).toBe(404);
      expect((await lab.https(`https://${lab.host}:8443${path}`, { token: lab.process.adminToken() })).status, path).toBe(404);
    }
    const lift = await lab.https(`https://${lab.host}:8443/api/blocks/source/${lab.host}`, { method: 'DELETE' });
    expect(lift.status).toBe(404);
    expect((await lab.https(`https://${lab.host}:8443/healthz`)).json()).toEqual({ status: 'ok' });
  });

  it('the admin pages listen on the LAN side only, want the token everywhere but /healthz, and show it a 0600 file', async () => {
    const admin = `https://${lab.internal}:9080`;
    for (const path of ['/', '/api/status', '/api/registrations', '/metrics', '/api/blocks/source/1.2.3.4']) {
      const method = path.startsWith('/api/blocks/') ? 'DELETE' : 'GET';
      expect((await lab.https(`${admin}${path}`, { method })).status, path).toBe(401);
    }
    expect((await lab.https(`${admin}/healthz`)).status).toBe(200);
    expect((await lab.https(`${admin}/metrics`, { token: lab.process.adminToken() })).body).toContain('psi_gateway_registrations');
    expect(statSync(join(lab.process.dataDir, 'admin-token')).mode & 0o777).toBe(0o600);
    // Not on the sets' address at all.
    await expect(lab.https(`https://${lab.host}:9080/api/status`, { token: lab.process.adminToken() })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('locks out an address guessing the admin token: after 10 wrong ones, the right one gets 429 too', async () => {
    const guesser = await leaseLoopbackAddress();
    const admin = `https://${lab.internal}:9080/api/status`;
    for (let i = 0; i < 10; i++) expect((await lab.https(admin, { token: `guess-${i}`, from: guesser })).status).toBe(401);
    const locked = await lab.https(admin, { token: lab.process.adminToken(), from: guesser });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThanOrEqual(3000);
    // The operator elsewhere is not locked out by it.
    expect((await lab.https(admin, { token: lab.process.adminToken() })).status).toBe(200);
  });
});

describe('attack 10: the set credentials (HA1) and the keys', () => {
  const api = (): string => `https://${lab.internal}:8070`;
  const mbgBasic = (): string => {
    // What someone who read the gateway's configuration knows.
    const yaml = readFileSync(join(lab.process.dataDir, 'gateway.yaml'), 'utf8');
    const account = /^\s+account: (\S+)$/m.exec(yaml)![1];
    const secret = /^\s+secret: (\S+)$/m.exec(yaml)![1];
    return `Basic ${Buffer.from(`${account}:${secret}`).toString('base64')}`;
  };

  it('the pbx API speaks TLS only: a plain HTTP request gets no HTTP answer', async () => {
    // From the MBG's own address, with its account and secret: what would be answered, were it HTTP.
    const answered = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: lab.internal, port: 8070, path: '/api/gateway/credentials', headers: { authorization: mbgBasic() }, localAddress: lab.internal }, (res) => resolve(`HTTP ${res.statusCode}`));
      req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      req.end();
    });
    expect(answered).not.toMatch(/^HTTP/);
    // The control: over TLS, from there, the same request is answered.
    expect((await lab.https(`${api()}/api/gateway/credentials`, { headers: { authorization: mbgBasic() }, from: lab.internal })).status).toBe(200);
  });

  it("hands every HA1 to nobody but the MBG's address, even with the MBG's account and secret", async () => {
    const stranger = await leaseLoopbackAddress();
    const answer = await lab.https(`${api()}/api/gateway/credentials`, { headers: { authorization: mbgBasic() }, from: stranger });
    expect(answer.status).toBe(403);
    expect(answer.json()).toMatchObject({ error: { code: 'not-the-gateway' } });
    expect(answer.body).not.toMatch(/ha1/i);
  });

  it('guess-limits the pbx API: 10 wrong tokens lock the source out, the right token then gets 429', async () => {
    const guesser = await leaseLoopbackAddress();
    for (let i = 0; i < 10; i++) expect((await lab.https(`${api()}/api/subscribers`, { token: `guess-${i}`, from: guesser })).status).toBe(401);
    const locked = await lab.https(`${api()}/api/subscribers`, { token: lab.process.apiToken(), from: guesser });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThanOrEqual(3000);
    expect((await lab.https(`${api()}/api/subscribers`, { token: lab.process.apiToken() })).status).toBe(200);
  });

  it('takes no body that is not declared JSON: a browser form post cannot add a subscriber', async () => {
    const body = JSON.stringify({ extension: '1666', name: 'Mallory', email: 'mallory@evil.test', password: 'mallory-secret-1' });
    const posted = await lab.https(`${api()}/api/subscribers`, { method: 'POST', token: lab.process.apiToken(), headers: { 'content-type': 'text/plain' }, body });
    expect(posted.status).toBe(415);
    const list = await lab.https(`${api()}/api/subscribers`, { token: lab.process.apiToken() });
    expect(list.json<Array<{ extension: string }>>().map((s) => s.extension)).not.toContain('1666');
  });

  it("keeps the CA's private key apart from every certificate it signed, readable by its owner only", () => {
    const data = lab.process.dataDir;
    for (const dir of ['certs', 'pbx-certs']) expect(readdirSync(join(data, dir)).filter((f) => f.endsWith('.key')), dir).toEqual(['server.key']);
    expect(statSync(join(data, 'ca')).mode & 0o077).toBe(0);
    expect(statSync(join(data, 'ca', 'ca.key')).mode & 0o077).toBe(0);
  });
});
