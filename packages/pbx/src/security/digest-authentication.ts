import { requestIdentity, type DigestAlgorithm, type DigestServer, type IncomingRequest, type Middleware } from '@psi-lab/sip';
import type { HashAlgorithm, PbxStore } from '../store/types.js';
import type { AuthenticatedLocals } from '../registrar/registrar.js';

export interface DigestAuthenticationOptions {
  store: PbxStore;
  digest: DigestServer;
  /** Requests from here are not challenged (the SIP trunk standing in for the PSTN). */
  isTrusted?: (req: IncomingRequest) => boolean;
  /** A request carried credentials that were wrong: SIP security counts these. */
  onFailure?: (req: IncomingRequest, reason: string) => void;
}

/** ACK and CANCEL can't be challenged (RFC 3261 §22.1); OPTIONS only asks what we support, and the gateway pings with it. */
const UNCHALLENGED = new Set(['ACK', 'CANCEL', 'OPTIONS']);

/** Not the caller's password: its answer is refused and it is asked again, and nothing is counted. */
const NOT_A_GUESS = new Set(['missing', 'not-digest', 'stale', 'replay', 'forged-nonce', 'qop-missing']);

/**
 * Digest authentication of every request outside a dialog: 401 for REGISTER, 407 for the rest
 * (RFC 3261 §22), MD5 first. Meant for `app.useStateless`: a challenge leaves no transaction
 * behind. An unknown user and a wrong password get the same answer, after the same hashing, so
 * the pbx gives no list of its extensions away. Nonces are bound to the source address, the
 * answer's uri must be the Request-URI, and qop=auth is required (no replay). Requests inside a
 * dialog are not challenged here: the dialog routing admits them only from the dialog's peers.
 */
export function digestAuthentication(options: DigestAuthenticationOptions): Middleware {
  const { store, digest } = options;
  const lookup = (username: string, _realm: string, algorithm: DigestAlgorithm): string | undefined =>
    algorithm === 'MD5' || algorithm === 'SHA-256' ? store.ha1(username, algorithm as HashAlgorithm) : undefined;

  return (req, res, next) => {
    if (UNCHALLENGED.has(req.method) || req.msg.to.tag || options.isTrusted?.(req)) return next();
    const register = req.method === 'REGISTER';
    const header = req.get(register ? 'authorization' : 'proxy-authorization');
    const verdict = digest.verify({ method: req.method, header, requestUri: req.uri, boundTo: req.sourceAddress }, lookup);
    if (verdict.ok) {
      (req.locals as AuthenticatedLocals).user = verdict.username;
      return next();
    }
    if (verdict.reason === 'uri-mismatch') {
      return void res.send(400, 'Bad Request (the digest uri is not the Request-URI)');
    }
    if (!NOT_A_GUESS.has(verdict.reason)) options.onFailure?.(req, verdict.reason);
    const name = register ? 'WWW-Authenticate' : 'Proxy-Authenticate';
    const headers = digest.challenge({ stale: verdict.stale, boundTo: req.sourceAddress, request: requestIdentity(req) }).map((v) => [name, v] as [string, string]);
    void res.send(register ? 401 : 407, { headers });
  };
}
