import { DigestServer, requestIdentity, type DigestAlgorithm, type IncomingRequest, type Middleware } from '@psi-lab/sip';
import type { GatewayContext, SetLocals } from '../context.js';
import type { AbuseBlocker } from '../security/index.js';

export interface SetAuthenticationOptions {
  algorithms: DigestAlgorithm[];
  nonceTtlSeconds: number;
  blocker: AbuseBlocker;
  /** Wrong credentials (or a locked user's): SIP security counts these per source and per user. */
  onFailure(req: IncomingRequest, reason: string, user: string | undefined): void;
}

/**
 * Set-side authentication (MBG: "Set-side Authentication Methods: MD5"): the gateway challenges
 * every request a set sends outside a dialog, 401 for REGISTER and 407 for the rest, and checks
 * the answer against the HA1 the pbx gave it. Nothing reaches the pbx before this passes.
 *
 * Meant for `app.useStateless`: a challenge leaves no transaction behind, so a flood of
 * unauthenticated requests costs no memory. Nonces are bound to the source address, the
 * answer must carry qop=auth (a nonce-count: no replay) and name the Request-URI. An unknown
 * user, a wrong password and a locked user all get 403 after the same hashing, from the same
 * in-memory lookup: neither the answer nor its timing tells which extensions exist.
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
  const lookup = (user: string, _realm: string, algorithm: DigestAlgorithm): string | undefined => ctx.credentials.ha1(user, algorithm);

  return (req, res, next) => {
    // CANCEL and ACK cannot be challenged (RFC 3261 §22.1); OPTIONS is a set's own keepalive;
    // requests inside a dialog belong to a set that authenticated the dialog.
    if (req.method === 'ACK' || req.method === 'CANCEL' || req.method === 'OPTIONS' || req.msg.to.tag !== undefined) return next();
    if (!ctx.credentials.ready) {
      // Not the set's fault: the pbx has not told the gateway who exists yet. Nothing is counted.
      return void res.send(503, 'Service Unavailable (the pbx does not answer)', { headers: { 'Retry-After': 30 } });
    }
    const register = req.method === 'REGISTER';
    const header = req.get(register ? 'authorization' : 'proxy-authorization');
    const digestServer = server();
    const verdict = digestServer.verify({ method: req.method, header, requestUri: req.uri, boundTo: req.sourceAddress }, lookup);
    const guessed = verdict.ok || verdict.reason === 'unknown-user' || verdict.reason === 'bad-response';
    // A user under a distributed guessing attack is locked for every source it never
    // authenticated from: a right password from there is refused like a wrong one.
    if (guessed && verdict.username !== undefined && !options.blocker.allowsUserFrom(verdict.username, req.sourceAddress)) {
      return refuse(req, res, 'user locked', verdict.username);
    }
    if (verdict.ok) {
      (req.locals as SetLocals).user = verdict.username;
      options.blocker.recordAuthSuccess(req.sourceAddress, verdict.username);
      return next();
    }
    if (guessed) return refuse(req, res, verdict.reason, verdict.username);
    if (verdict.reason === 'uri-mismatch') {
      return void res.send(400, 'Bad Request (the digest uri is not the Request-URI)');
    }
    // A nonce reused, bound to another source, from before a restart, or expired, and an answer
    // without qop: what honest phones send when they refresh with the credentials they had, or
    // what a replay looks like. Either way a fresh challenge, and no count.
    ctx.counters.challenges++;
    const name = register ? 'WWW-Authenticate' : 'Proxy-Authenticate';
    const challenges = digestServer.challenge({ stale: verdict.stale, boundTo: req.sourceAddress, request: requestIdentity(req) });
    void res.send(register ? 401 : 407, { headers: challenges.map((v): [string, string] => [name, v]) });
  };

  function refuse(req: IncomingRequest, res: Parameters<Middleware>[1], reason: string, user: string | undefined): void {
    ctx.counters.authFailures++;
    options.onFailure(req, reason, user);
    // The same answer for all: a scanner cannot tell a valid extension from an invalid one.
    void res.send(403);
  }
}
