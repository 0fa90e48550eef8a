import type { DigestAlgorithm, DigestServer, IncomingRequest, Middleware } from '@psi-lab/sip';
import type { HashAlgorithm, PbxStore } from '../store/types.js';
import type { AuthenticatedLocals } from '../registrar/registrar.js';
import type { AuthenticatedSources } from './authenticated-sources.js';

export interface DigestAuthenticationOptions {
  store: PbxStore;
  digest: DigestServer;
  /** Requests from here are not challenged (the SIP trunk standing in for the PSTN). */
  isTrusted?: (req: IncomingRequest) => boolean;
  /** A request carried credentials that were wrong: SIP security counts these. */
  onFailure?: (req: IncomingRequest, reason: string) => void;
  /** Sources that authenticated before: their in-dialog requests (To tag) are not challenged again. */
  sources?: AuthenticatedSources;
}

/** ACK and CANCEL can't be challenged (RFC 3261 §22.1); OPTIONS only asks what we support, and the gateway pings with it. */
const UNCHALLENGED = new Set(['ACK', 'CANCEL', 'OPTIONS']);

/**
 * Digest authentication of every request from an unauthenticated source: 401 for REGISTER,
 * 407 for the rest (RFC 3261 §22), offering SHA-256 and MD5. An unknown user and a wrong
 * password get the same answer, so the pbx gives no list of its extensions away. A source that
 * authenticated is remembered, so the requests inside its dialogs go through unchallenged.
 */
export function digestAuthentication(options: DigestAuthenticationOptions): Middleware {
  const { store, digest } = options;
  const lookup = (username: string, _realm: string, algorithm: DigestAlgorithm): string | undefined =>
    algorithm === 'MD5' || algorithm === 'SHA-256' ? store.ha1(username, algorithm as HashAlgorithm) : undefined;

  return (req, res, next) => {
    if (UNCHALLENGED.has(req.method) || options.isTrusted?.(req)) return next();
    const source = `${req.sourceAddress}:${req.sourcePort}`;
    if (req.msg.to.tag && options.sources?.has(source)) return next();
    const register = req.method === 'REGISTER';
    const header = req.get(register ? 'authorization' : 'proxy-authorization');
    const verdict = digest.verify({ method: req.method, header }, lookup);
    if (verdict.ok) {
      (req.locals as AuthenticatedLocals).user = verdict.username;
      options.sources?.remember(source);
      return next();
    }
    if (header !== undefined && !verdict.stale && verdict.reason !== 'not-digest' && verdict.reason !== 'missing') {
      options.onFailure?.(req, verdict.reason);
    }
    const name = register ? 'WWW-Authenticate' : 'Proxy-Authenticate';
    const headers = digest.challenge({ stale: verdict.stale }).map((v) => [name, v] as [string, string]);
    void res.send(register ? 401 : 407, { headers });
  };
}
