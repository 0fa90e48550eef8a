import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, sendError, sendJson } from './http-io.js';

/**
 * What the set-facing HTTPS port answers besides the WebSocket upgrade (SIP over WSS): a health
 * check, and nothing else. Administration lives on the admin listener, never here.
 */
export function createSetFacingRequestHandler(): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '/').split(/[?#]/)[0];
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) return sendJson(res, 200, { status: 'ok' });
    sendError(res, new HttpError(404, 'not-found', 'nothing here: this port carries SIP over WebSocket'));
  };
}
