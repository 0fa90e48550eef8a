import type { IncomingRequest } from './incoming-request.js';
import type { OutgoingResponse } from './outgoing-response.js';

export type Next = (error?: unknown) => void;

/** drachtio-srf style: inspect, answer, or pass on with `next()`. May be async. */
export type Middleware = (req: IncomingRequest, res: OutgoingResponse, next: Next) => void | Promise<void>;

/** The last step of the chain for one method. */
export type RequestHandler = (req: IncomingRequest, res: OutgoingResponse) => void | Promise<void>;

/**
 * Run middleware in order, then the handler. An error thrown, rejected or passed to `next(err)`
 * stops the chain and reaches `onError`.
 */
export function runChain(
  chain: Middleware[],
  handler: RequestHandler | undefined,
  req: IncomingRequest,
  res: OutgoingResponse,
  onError: (error: unknown) => void,
): void {
  let index = 0;
  const next: Next = (error) => {
    if (error !== undefined) return onError(error);
    if (res.finalResponseSent) return;
    const mw = chain[index++];
    try {
      const result = mw ? mw(req, res, next) : handler?.(req, res);
      if (result && typeof (result as Promise<void>).catch === 'function') (result as Promise<void>).catch(onError);
    } catch (e) {
      onError(e);
    }
  };
  next();
}
