import { DigestServer, type DigestAlgorithm, type IncomingRequest, type Middleware } from '@psi-lab/sip';
import type { GatewayContext, SetLocals } from '../context.js';

export interface SetAuthenticationOptions {
  algorithms: DigestAlgorithm[];
  nonceTtlSeconds: number;
  /** Wrong credentials: SIP security counts these per source and per User-Agent. */
  onFailure(req: IncomingRequest, reason: string): void;
}

/**
 * Set-side authentication (MBG: "Set-side Authentication Methods: MD5"): the gateway challenges
 * every request a set sends outside a dialog, 401 for REGISTER and 407 for the rest, and checks
 * the answer against the HA1 the pbx gave it. Nothing reaches the pbx before this passes. An
 * unknown user and a wrong password look the same from outside (no user enumeration).
 */
export function setAuthentication(ctx: GatewayContext, options: SetAuthenticationOptions): Middleware {
  let digest: DigestServer | undefined;
  const server = (): DigestServer => {
    // The realm is the pbx's: the HA1 the pbx hands out was computed with it.
    const realm = ctx.credentials.realm ?? 'psi-lab';
    if (digest?.realm !== realm) {
      digest = new DigestServer({ realm, algorithms: options.algorithms, nonceTtlSeconds: options.nonceTtlSeconds, now: ctx.now });
    }
    return digest;
  };
  const lookup = (user: string, _realm: string, algorithm: DigestAlgorithm): Promise<string | undefined> =>
    ctx.credentials.ha1Fresh(user, algorithm);

  return async (req, res, next) => {
    // CANCEL and ACK cannot be challenged (RFC 3261 §22.1); OPTIONS is a set's own keepalive.
    if (req.method === 'ACK' || req.method === 'CANCEL' || req.method === 'OPTIONS') return next();
    const register = req.method === 'REGISTER';
    const header = req.get(register ? 'authorization' : 'proxy-authorization');
    const digestServer = server();
    const verdict = await digestServer.verifyAsync({ method: req.method, header }, lookup);
    if (verdict.ok) {
      (req.locals as SetLocals).user = verdict.username;
      return next();
    }
    // Only a wrong password (or a user that does not exist) is a failure. A nonce reused, one
    // from before a restart, or an expired one is what honest phones send when they refresh or
    // unregister with the credentials they had: they get a fresh challenge, and no count.
    if (verdict.reason === 'unknown-user' && !ctx.credentials.reachable) {
      // Not the set's fault: the pbx cannot be asked who it is. Nothing is counted.
      return void res.send(503, 'Service Unavailable (the pbx does not answer)', { headers: { 'Retry-After': 30 } });
    }
    if (verdict.reason === 'unknown-user' || verdict.reason === 'bad-response') {
      ctx.counters.authFailures++;
      options.onFailure(req, verdict.reason);
      // Same answer for both, so a scanner cannot tell a valid extension from an invalid one.
      return void res.send(403);
    }
    ctx.counters.challenges++;
    const name = register ? 'WWW-Authenticate' : 'Proxy-Authenticate';
    void res.send(register ? 401 : 407, { headers: digestServer.challenge({ stale: verdict.stale }).map((v): [string, string] => [name, v]) });
  };
}
