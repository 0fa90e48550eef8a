import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { GuessLimiter } from '@psi-lab/sip';
import type { Logger } from 'pino';
import type { PbxStore } from '../store/types.js';
import { requireBearer, requireGateway } from './auth.js';
import { ApiError, errorBody, toApiError } from './errors.js';
import { readJsonBody, sendEmpty, sendJson } from './http-io.js';
import { managementRoutes, type BlockSource, type Route } from './routes.js';

export interface ManagementApiOptions {
  /** The administrators' bearer token. */
  token: string;
  logger?: Logger;
  /** The SIP security layer's blocks; without it /api/blocks answers 501. */
  blocks?: BlockSource;
  /** Counts wrong credentials per source (default: 10 within 10 minutes lock a source out for an hour). */
  guesses?: GuessLimiter;
}

interface CompiledRoute {
  route: Route;
  segments: string[];
}

/**
 * The pbx's management REST API (JSON, bearer-token protected; the gateway's credentials
 * route uses HTTP Basic with the MBG entry instead). HA1s leave only through that route,
 * passwords and the shared secret never.
 */
export function createManagementApi(store: PbxStore, options: ManagementApiOptions): RequestListener {
  if (!options.token) throw new Error('the management API needs a non-empty token: an empty one would let anybody in');
  const routes: CompiledRoute[] = managementRoutes(store, options.blocks).map((route) => ({ route, segments: splitPath(route.path) }));
  const { logger } = options;
  // One limiter for the administrators' token, one for the gateway's route: a guesser of the
  // bearer token on the MBG's own host must not lock the gateway out of its credentials.
  const guesses = { token: options.guesses ?? new GuessLimiter(), gateway: new GuessLimiter() };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://pbx.invalid');
    let segments: string[];
    try {
      segments = splitPath(url.pathname).map((s) => decodeURIComponent(s));
    } catch {
      throw new ApiError(400, 'bad-request', 'path', `the path ${url.pathname} is not valid percent-encoding`);
    }
    const onPath = routes.map((r) => ({ route: r.route, params: match(r.segments, segments) })).filter((m) => m.params !== undefined);
    // Which authentication applies depends on the path alone, so it is checked before the
    // method: an unauthenticated caller learns nothing about the routes.
    const source = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const kind = onPath.some((m) => m.route.auth === 'gateway') ? 'gateway' : 'token';
    const locked = guesses[kind].lockedFor(source);
    if (locked > 0) {
      // Locked out: right credentials are refused too, so the answers tell a guesser nothing.
      throw new ApiError(429, 'too-many-failures', 'authorization', 'too many wrong credentials from this address: try again later', { 'retry-after': String(Math.ceil(locked / 1000)) });
    }
    try {
      if (kind === 'gateway') requireGateway(req, store.getMbg());
      else requireBearer(req, options.token);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401 && req.headers.authorization) guesses[kind].fail(source);
      throw error;
    }
    if (onPath.length === 0) throw new ApiError(404, 'not-found', 'path', `there is no ${url.pathname} in this API`);
    const chosen = onPath.find((m) => m.route.method === req.method);
    if (!chosen) {
      const allowed = onPath.map((m) => m.route.method).join(', ');
      throw new ApiError(405, 'method-not-allowed', 'method', `${req.method} is not supported on ${url.pathname}: use ${allowed}`, { allow: allowed });
    }
    const reply = await chosen.route.handle({ params: chosen.params ?? {}, query: url.searchParams, headers: req.headers, body: () => readJsonBody(req) });
    if (reply.body === undefined) sendEmpty(res, reply.status, reply.headers);
    else sendJson(res, reply.status, reply.body, reply.headers);
  };

  return (req, res) => {
    const started = Date.now();
    handle(req, res).catch((error: unknown) => {
      const apiError = toApiError(error);
      if (apiError.status >= 500) logger?.error({ err: error, method: req.method, url: req.url }, 'management API request failed');
      else if (apiError.status === 401 || apiError.status === 403) logger?.warn({ method: req.method, url: req.url, source: req.socket.remoteAddress, code: apiError.code }, 'management API authentication failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, apiError.status, errorBody(apiError), apiError.headers);
    }).finally(() => {
      logger?.debug({ method: req.method, url: req.url, status: res.statusCode, ms: Date.now() - started }, 'management API request');
    });
  };
}

function splitPath(path: string): string[] {
  return path.split('/').filter((segment) => segment !== '');
}

/** The captured parameters when `segments` fits `pattern`, else undefined. */
function match(pattern: string[], segments: string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i].startsWith(':')) params[pattern[i].slice(1)] = segments[i];
    else if (pattern[i] !== segments[i]) return undefined;
  }
  return params;
}
