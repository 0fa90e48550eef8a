import type { IncomingMessage, ServerResponse } from 'node:http';
import { GuessLimiter, normalizeAddress } from '@psi-lab/sip';
import type { Logger } from 'pino';
import type { BlockView, GatewayStatus } from '../status/types.js';
import { ADMIN_CHALLENGE, carriesAdminToken } from './admin-auth.js';
import { HttpError, sendError, sendHtml, sendJson, sendText } from './http-io.js';
import { PROMETHEUS_CONTENT_TYPE, renderMetrics } from './prometheus.js';
import { renderStatusPage } from './status-page.js';

/** Lifts a block (a source's, a user's lock) by kind and value; false when nothing was blocked under that key. */
export type Unblock = (kind: BlockView['kind'], value: string) => boolean;

export interface StatusRoutesOptions {
  /** The snapshot every route shows, taken anew for each request. */
  status: () => GatewayStatus;
  /** Everything but /healthz wants this token: administration is never anonymous. */
  adminToken: string;
  /** Counts wrong tokens per source (default: 10 within 10 minutes lock a source out for an hour). */
  guesses?: GuessLimiter;
  unblock?: Unblock;
  /** Milliseconds since the epoch, for uptime. */
  now: () => number;
  logger?: Logger;
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[]) => void;

interface Route {
  /** Matched against the raw (still percent-encoded) path; groups become `params`. */
  path: RegExp;
  /** Reachable without the admin token: a health check carries no credentials. */
  open?: boolean;
  methods: { GET?: Handler; DELETE?: Handler };
}

const BLOCK_KINDS: ReadonlyArray<BlockView['kind']> = ['source', 'user'];

/** The request listener of the admin server: routing, admin token (guess-limited), errors as JSON. */
export function createStatusRequestHandler(options: StatusRoutesOptions): (req: IncomingMessage, res: ServerResponse) => void {
  if (!options.adminToken) throw new Error('the admin server needs a non-empty token: administration is never anonymous');
  const routes = buildRoutes(options);
  const guesses = options.guesses ?? new GuessLimiter(options.now);
  return (req, res) => {
    try {
      handle(req, res, routes, options.adminToken, guesses, options.logger);
    } catch (error) {
      if (error instanceof HttpError) {
        sendError(res, error);
        return;
      }
      options.logger?.error({ err: error, method: req.method, url: req.url }, 'status server: handling the request failed');
      // Half an answer cannot be completed into a well-formed one: cut it short instead.
      if (res.headersSent) res.destroy();
      else sendError(res, new HttpError(500, 'internal', 'internal error: see the gateway log'));
    }
  };
}

function handle(req: IncomingMessage, res: ServerResponse, routes: Route[], adminToken: string, guesses: GuessLimiter, logger: Logger | undefined): void {
  const method = req.method ?? 'GET';
  const path = pathOf(req.url ?? '/');
  const found = routes.map((route) => ({ route, match: route.path.exec(path) })).find((r) => r.match !== null);

  // Unknown paths are behind the token too: who is not admitted learns nothing about routes.
  if (!found?.route.open) {
    const source = normalizeAddress(req.socket.remoteAddress);
    const locked = guesses.lockedFor(source);
    if (locked > 0) {
      // Locked out: the right token is refused too, so the answers tell a guesser nothing.
      throw new HttpError(429, 'too-many-failures', 'too many wrong admin tokens from this address: try again later', { 'retry-after': String(Math.ceil(locked / 1000)) });
    }
    if (!carriesAdminToken(req.headers.authorization, adminToken)) {
      if (req.headers.authorization) {
        const nowLocked = guesses.fail(source);
        logger?.warn({ source, path, lockedOut: nowLocked }, 'admin: wrong token');
      }
      const message = req.headers.authorization
        ? 'the admin token is wrong'
        : 'this page needs the admin token: "Authorization: Bearer <token>" or HTTP Basic with the token as password';
      throw new HttpError(401, 'unauthorized', message, { 'www-authenticate': ADMIN_CHALLENGE });
    }
  }
  if (!found || !found.match) throw new HttpError(404, 'not-found', `no route for ${method} ${path}`);

  const { methods } = found.route;
  const handler = method === 'HEAD' ? methods.GET : methods[method as keyof Route['methods']];
  if (!handler) {
    const allowed = Object.keys(methods).flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])).join(', ');
    throw new HttpError(405, 'method-not-allowed', `${path} answers ${allowed}, not ${method}`, { allow: allowed });
  }
  handler(req, res, found.match.slice(1));
}

function buildRoutes(options: StatusRoutesOptions): Route[] {
  const { status, now } = options;
  return [
    { path: /^\/$/, methods: { GET: (_req, res) => sendHtml(res, 200, renderStatusPage(status(), now())) } },
    { path: /^\/api\/status$/, methods: { GET: (_req, res) => sendJson(res, 200, status()) } },
    { path: /^\/api\/registrations$/, methods: { GET: (_req, res) => sendJson(res, 200, status().registrations) } },
    { path: /^\/api\/calls$/, methods: { GET: (_req, res) => sendJson(res, 200, status().calls) } },
    { path: /^\/api\/blocks$/, methods: { GET: (_req, res) => sendJson(res, 200, status().blocks) } },
    { path: /^\/api\/counters$/, methods: { GET: (_req, res) => sendJson(res, 200, status().counters) } },
    {
      // The value may hold slashes (User-Agents do); encoded or not, they belong to it.
      path: /^\/api\/blocks\/([^/]+)\/(.+)$/,
      methods: { DELETE: (_req, res, [kind, value]) => deleteBlock(res, options.unblock, kind, value) },
    },
    {
      path: /^\/metrics$/,
      methods: { GET: (_req, res) => sendText(res, 200, PROMETHEUS_CONTENT_TYPE, renderMetrics(status(), now())) },
    },
    // Health means the HTTPS server answers: no status() call that could fail or be slow.
    { path: /^\/healthz$/, open: true, methods: { GET: (_req, res) => sendJson(res, 200, { status: 'ok' }) } },
  ];
}

function deleteBlock(res: ServerResponse, unblock: Unblock | undefined, rawKind: string, rawValue: string): void {
  if (!unblock) throw new HttpError(501, 'not-implemented', 'this gateway cannot lift blocks through the API');
  const kind = decodeSegment(rawKind, 'kind');
  const value = decodeSegment(rawValue, 'value');
  if (!isBlockKind(kind)) {
    throw new HttpError(400, 'bad-request', `unknown block kind "${kind}": expected ${BLOCK_KINDS.join(' or ')}`);
  }
  if (!unblock(kind, value)) throw new HttpError(404, 'not-blocked', `${kind} "${value}" is not blocked`);
  sendJson(res, 200, { unblocked: { kind, value } });
}

function isBlockKind(kind: string): kind is BlockView['kind'] {
  return (BLOCK_KINDS as readonly string[]).includes(kind);
}

function decodeSegment(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'bad-request', `the block ${what} "${raw}" is not valid percent-encoding`);
  }
}

/**
 * The path of a request target, without query or fragment and without normalisation:
 * `/api/../healthz` is no route rather than a way around the token. The absolute form
 * (`https://host/path`, which proxies send) is reduced to its path.
 */
function pathOf(target: string): string {
  let path = target;
  if (!path.startsWith('/')) {
    const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/i.exec(path);
    path = absolute ? absolute[1] || '/' : path;
  }
  const end = path.search(/[?#]/);
  return end < 0 ? path : path.slice(0, end);
}
