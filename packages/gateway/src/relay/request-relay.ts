import type { IncomingRequest, OutgoingResponse } from '@psi-lab/sip';
import type { GatewayContext } from '../context.js';
import { newLegCallId, otherSide } from './b2b-call.js';
import { outwardStatus, type RelayPlan } from './dialog-relay.js';
import { requestHeaders, responseHeaders } from './headers.js';

/** Where a request is relayed to: the same plan as for a dialog, without extra headers. */
export type RequestPlan = Omit<RelayPlan, 'headers'>;

/** A request outside any dialog that makes none (MESSAGE, INFO, PUBLISH...): one new request, its final answer back. */
export async function relayRequest(ctx: GatewayContext, req: IncomingRequest, res: OutgoingResponse, plan: RequestPlan): Promise<void> {
  const to = otherSide(plan.from);
  const app = to === 'set' ? ctx.setApp : ctx.pbx.app;
  try {
    const { response } = await app.request({
      method: req.method, uri: plan.uri, destination: plan.destination,
      from: plan.fromHeader, to: plan.toHeader, callId: newLegCallId(ctx, to),
      headers: requestHeaders(req.msg), body: req.body.length > 0 ? req.body : undefined,
      auth: to === 'pbx' ? ctx.pbx.icp(plan.setUser) : undefined,
    });
    void res.send(outwardStatus(response.status), response.reason, { headers: responseHeaders(response), body: response.body.length > 0 ? response.body : undefined });
  } catch (e) {
    void res.send(/timeout/.test((e as Error).message) ? 408 : 503);
  }
}
