import { type IncomingRequest, type Middleware, type SipApp, type SipUri } from '@psi-lab/sip';
import type { DialogMatch, DialogRoutes } from './dialog-routes.js';
import { forwardedRequest, upstreamResponse } from './next-hop.js';

export interface InDialogContext {
  app: SipApp;
  dialogs: DialogRoutes;
  /** Whether a Route URI names this pbx (our Record-Route coming back). */
  isOwnUri: (uri: SipUri) => boolean;
}

/**
 * Requests inside a dialog we record-routed (BYE, re-INVITE, UPDATE, INFO, REFER...): found by
 * Call-ID and tags among the dialogs the pbx remembers, accepted only from that dialog's peer,
 * and sent to the other peer where the dialog was made — our Route entry taken off (RFC 3261
 * §16.4), the rest of the Route set kept. An unknown dialog gets 481; nothing goes to a host
 * a Request-URI or Route header names.
 */
export function inDialogRouting(ctx: InDialogContext): Middleware {
  return (req, res, next) => {
    if (!req.msg.to.tag || req.method === 'CANCEL') return next();
    const match = ctx.dialogs.find(req.msg);
    if (!match) return void res.send(481);
    if (!fromPeer(match, req)) return void res.send(403, 'Forbidden (not from a party to this dialog)');
    ctx.dialogs.touch(match.dialog);
    const destination = match.to.destination;
    const request = forwardedRequest(ctx.app, req.msg, req.uri, destination.protocol, routeAfterOurs(ctx, req));
    let tx;
    try {
      tx = ctx.app.transactions.sendRequest(request, destination);
    } catch {
      return void res.send(500);
    }
    tx.on('provisional', (r) => void res.relay(upstreamResponse(r)));
    tx.on('final', (r) => {
      // A BYE ends the dialog whatever its answer (RFC 3261 §15.1.2); a 481 says it is gone already.
      if (req.method === 'BYE' || r.status === 481) ctx.dialogs.end(match.dialog);
      void res.relay(upstreamResponse(r));
    });
    tx.on('timeout', () => {
      if (req.method === 'BYE') ctx.dialogs.end(match.dialog);
      void res.send(408);
    });
    tx.on('transport-error', () => {
      if (req.method === 'BYE') ctx.dialogs.end(match.dialog);
      void res.send(503);
    });
  };
}

/** The ACK of a 2xx has no transaction: forwarded as it comes, statelessly, along its dialog — or dropped. */
export function forwardAck(ctx: InDialogContext, ack: IncomingRequest): void {
  const match = ctx.dialogs.find(ack.msg);
  if (!match || !fromPeer(match, ack)) return;
  const destination = match.to.destination;
  const request = forwardedRequest(ctx.app, ack.msg, ack.uri, destination.protocol, routeAfterOurs(ctx, ack));
  ctx.app.transport.send(request, destination).catch(() => undefined);
}

function fromPeer(match: DialogMatch, req: IncomingRequest): boolean {
  return req.sourceAddress.replace(/^::ffff:/, '') === match.from.address;
}

/** The Route set without its first entry when that entry is ours. */
function routeAfterOurs(ctx: InDialogContext, req: IncomingRequest): string[] {
  const routes = req.msg.has('route') ? req.msg.routeSet('route') : [];
  return routes.filter((r, i) => !(i === 0 && 'host' in r.uri && ctx.isOwnUri(r.uri as SipUri))).map((r) => r.toString());
}
