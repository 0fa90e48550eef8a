import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DigestServer, SipApp, type Listener } from '../src/index.js';
import { leaseLoopbackAddress } from '@psi-lab/testkit';

const HOST = await leaseLoopbackAddress();
const REALM = 'stateless.test';
const PASSWORD = 'stateless-secret';

/**
 * `useStateless`: a challenge sent before any transaction exists leaves nothing behind, and a
 * request that passes gets its transaction and reaches the handler with what was learned.
 */
describe('SipApp.useStateless: challenges without transaction state', () => {
  const server = new SipApp({ userAgent: 'stateless-test' });
  const client = new SipApp();
  const digest = new DigestServer({ realm: REALM, algorithms: ['MD5'] });
  const handled: Array<{ user: unknown; transactions: number }> = [];
  let udp: Listener;

  beforeAll(async () => {
    server.useStateless((req, res, next) => {
      const header = req.get('authorization');
      const verdict = digest.verify({ method: req.method, header, requestUri: req.uri, boundTo: req.sourceAddress }, (user, realm) =>
        (user === 'alice' ? createHash('md5').update(`${user}:${realm}:${PASSWORD}`).digest('hex') : undefined));
      if (verdict.ok) {
        req.locals.user = verdict.username;
        return next();
      }
      void res.send(401, { headers: digest.challenge({ boundTo: req.sourceAddress }).map((v): [string, string] => ['WWW-Authenticate', v]) });
    });
    server.register((req, res) => {
      handled.push({ user: req.locals.user, transactions: server.transactions.size.server });
      void res.send(200);
    });
    [udp] = await server.listenUdpAndTcp({ host: HOST, port: 0 });
    await client.listen({ protocol: 'udp', host: HOST, port: 0 });
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  const register = (auth?: { username: string; password: string }) => client.request({
    method: 'REGISTER', uri: `sip:${HOST}:${udp.local.port}`, headers: { Contact: `<sip:alice@${HOST}:5999>` }, auth,
  });

  it('answers 401 to requests without credentials, with its Server header, and keeps no transaction for any', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => register()));
    expect(results.map((r) => r.response.status)).toEqual(Array(50).fill(401));
    expect(results[0].response.get('server')).toBe('stateless-test');
    expect(server.transactions.size.server).toBe(0);
  });

  it('gives a request that passes its transaction, and the handler the locals the stateless stage set', async () => {
    const result = await register({ username: 'alice', password: PASSWORD });
    expect(result.response.status).toBe(200);
    expect(handled).toEqual([{ user: 'alice', transactions: 1 }]);
  });
});
