import { SipUri, type RequestHandler } from '@psi-lab/sip';
import { ForkedCall, type CallRoutingContext } from './forked-call.js';

/** `app.invite(callRouter(ctx))`: a new call to the extension (or trunk number) in the Request-URI. */
export function callRouter(ctx: CallRoutingContext): RequestHandler {
  return (req, res) => {
    const uri = req.requestUri;
    const dialled = uri instanceof SipUri ? uri.user : undefined;
    if (!dialled) return void res.send(404);
    new ForkedCall(ctx, req, res).route(dialled);
  };
}
