import { DigestServer, SipApp, computeHa1, type SipAppOptions } from '../../src/index.js';

export const TEST_REALM = 'psi-lab-test';
export const TEST_USERS: Record<string, string> = { alice: 'alice-secret', bob: 'bob-secret', '1001': 'pw1001', '1002': 'pw1002' };

/**
 * A small SIP server built on the stack, as the tests' peer: a digest-authenticating registrar
 * (MD5 first: SIPp reads only the first challenge), OPTIONS, MESSAGE, and INVITE answered 486.
 */
export function createTestServer(options: SipAppOptions = {}): { app: SipApp; digest: DigestServer; registrations: string[] } {
  const app = new SipApp({ userAgent: 'psi-lab test server', ...options });
  const digest = new DigestServer({ realm: TEST_REALM, algorithms: ['MD5', 'SHA-256'] });
  const registrations: string[] = [];
  app.register((req, res) => {
    const verdict = digest.verify({ method: req.method, header: req.get('authorization') }, (user, realm, algorithm) => {
      const password = TEST_USERS[user];
      return password === undefined ? undefined : computeHa1(algorithm, user, realm, password);
    });
    if (!verdict.ok) {
      const challenges = digest.challenge({ stale: verdict.stale }).map((v) => ['WWW-Authenticate', v] as [string, string]);
      return void res.send(401, { headers: challenges });
    }
    registrations.push(verdict.username);
    const contact = req.get('contact');
    void res.send(200, { headers: contact ? [['Contact', contact], ['Expires', String(req.msg.expires ?? 3600)]] : [] });
  });
  app.message((_req, res) => void res.send(200));
  app.invite((_req, res) => void res.send(486));
  return { app, digest, registrations };
}

/** UDP and TCP on one free port of `host` (default 127.0.0.1; a test file passes its leased address). */
export async function listenUdpAndTcp(app: SipApp, host?: string): Promise<number> {
  const [udp] = await app.listenUdpAndTcp({ host, port: 0 });
  return udp.local.port;
}
