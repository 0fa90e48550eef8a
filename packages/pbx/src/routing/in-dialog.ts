import { type IncomingRequest, type Middleware, type SipApp, type SipUri } from '@psi-lab/sip';
import type { PbxStore } from '../store/types.js';
import { bindingDestination, findBindingByContact, forwardedRequest, uriDestination, upstreamResponse } from './next-hop.js';

export interface InDialogContext {
  app: SipApp;
  store: PbxStore;
  now: () => number;
  /** Whether a Route URI names this pbx (our Record-Route coming back). */
  isOwnUri: (uri: SipUri) => boolean;
}

/**
 * Requests inside a dialog we record-routed (BYE, re-INVITE, UPDATE, INFO, REFER...): loose
 * routing per RFC 3261 §16.4/16.6 — our Route entry taken off, then on to the next Route or the
 * Request-URI, back along the flow the peer registered on when it is one of ours.
 */
export function inDialogRouting(ctx: InDialogContext): Middleware {
  return (req, res, next) => {
    if (!req.msg.to.tag || req.method === 'CANCEL') return next();
    const target = nextHop(ctx, req);
    if (!target) return void res.send(404, { headers: { Warning: '399 pbx "no route to the dialog peer"' } });
    const request = forwardedRequest(ctx.app, req.msg, req.uri, target.destination.protocol, target.route);
    let tx;
    try {
      tx = ctx.app.transactions.sendRequest(request, target.destination);
    } catch {
      return void res.send(500);
    }
    tx.on('provisional', (r) => void res.relay(upstreamResponse(r)));
    tx.on('final', (r) => void res.relay(upstreamResponse(r)));
    tx.on('timeout', () => void res.send(408));
    tx.on('transport-error', () => void res.send(503));
  };
}

/** The ACK of a 2xx has no transaction: it is forwarded as it comes, statelessly. */
export function forwardAck(ctx: InDialogContext, ack: IncomingRequest): void {
  const target = nextHop(ctx, ack);
  if (!target) return;
  const request = forwardedRequest(ctx.app, ack.msg, ack.uri, target.destination.protocol, target.route);
  ctx.app.transport.send(request, target.destination).catch(() => undefined);
}

function nextHop(ctx: InDialogContext, req: IncomingRequest) {
  const routes = req.msg.has('route') ? req.msg.routeSet('route') : [];
  const remaining = routes.filter((r, i) => !(i === 0 && 'host' in r.uri && ctx.isOwnUri(r.uri as SipUri)));
  const route = remaining.map((r) => r.toString());
  if (remaining.length > 0) {
    const destination = uriDestination(remaining[0].uri.toString());
    return destination ? { destination, route } : undefined;
  }
  const binding = findBindingByContact(ctx.store, req.uri, ctx.now());
  if (binding) return { destination: bindingDestination(ctx.app, binding), route };
  const destination = uriDestination(req.uri);
  return destination ? { destination, route } : undefined;
}

