import { DigestServer, SipApp, computeHa1, type Listener, type NameAddr } from '@psi-lab/sip';
import type { Logger } from 'pino';
import type { LabUser } from './users.js';

export interface StackDemoOptions {
  host: string;
  users: LabUser[];
  tls: { certFile: string; keyFile: string };
  logger: Logger;
  sipTrace: boolean;
  ports?: { sip?: number; tls?: number; ws?: number };
}

export interface RunningStackDemo {
  app: SipApp;
  listeners: Listener[];
  close(): Promise<void>;
}

export const REALM = 'psi-lab';

/**
 * Until the pbx and gateway roles exist, the lab runs the SIP stack itself as a small digest-
 * authenticating registrar, so SIPp and softphones have something real to talk to.
 */
export async function startStackDemo(options: StackDemoOptions): Promise<RunningStackDemo> {
  const app = new SipApp({ logger: options.logger, sipTrace: options.sipTrace, userAgent: 'psi-lab stack demo' });
  // MD5 first: PSI sets use MD5, and SIPp reads only the first challenge.
  const digest = new DigestServer({ realm: REALM, algorithms: ['MD5', 'SHA-256'] });
  const ha1 = new Map<string, Map<string, string>>();
  for (const u of options.users) {
    ha1.set(u.extension, new Map([
      ['MD5', computeHa1('MD5', u.extension, REALM, u.password)],
      ['SHA-256', computeHa1('SHA-256', u.extension, REALM, u.password)],
    ]));
  }
  const bindings = new Map<string, { contact: NameAddr; expiresAt: number }>();

  app.register((req, res) => {
    const verdict = digest.verify({ method: req.method, header: req.get('authorization') }, (user, _realm, algorithm) => ha1.get(user)?.get(algorithm));
    if (!verdict.ok) {
      const headers = digest.challenge({ stale: verdict.stale }).map((v) => ['WWW-Authenticate', v] as [string, string]);
      return void res.send(401, { headers });
    }
    const contacts = req.msg.contacts;
    const expires = req.msg.expires ?? 3600;
    const aor = verdict.username;
    if (contacts === '*' || expires === 0) bindings.delete(aor);
    else if (contacts[0]) bindings.set(aor, { contact: contacts[0], expiresAt: Date.now() + expires * 1000 });
    const bound = bindings.get(aor);
    const headers: Array<[string, string]> = bound ? [['Contact', `${bound.contact.toString()};expires=${expires}`]] : [];
    void res.send(200, { headers });
  });

  const host = options.host;
  const listeners = [
    await app.listen({ protocol: 'udp', host, port: options.ports?.sip ?? 5070 }),
    await app.listen({ protocol: 'tcp', host, port: options.ports?.sip ?? 5070 }),
    await app.listen({ protocol: 'tls', host, port: options.ports?.tls ?? 5071, tls: options.tls }),
    await app.listen({ protocol: 'ws', host, port: options.ports?.ws ?? 8070, path: '/sip' }),
  ];
  return { app, listeners, close: () => app.close() };
}
