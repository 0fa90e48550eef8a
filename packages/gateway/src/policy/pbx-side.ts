import { parseNameAddr, type IncomingRequest, type NameAddr, type OutgoingResponse } from '@psi-lab/sip';
import type { GatewayContext } from '../context.js';
import { setDestination } from '../registrations/set-destination.js';
import { relayNewDialog, type RelayPlan } from '../relay/dialog-relay.js';
import { inDialogRelay, replacesHeader } from '../relay/in-dialog-relay.js';
import { relayRequest } from '../relay/request-relay.js';

/**
 * The pbx-side route block. Only the pbx may talk to this side:
 *   1. any other source is dropped before parsing;
 *   2. in-dialog requests follow their dialog to the set leg;
 *   3. a request to one of our contacts (a set's binding token) goes to that set, over the
 *      connection it registered on: INVITE, SUBSCRIBE, REFER make a dialog, others are relayed.
 */
export function installPbxSidePolicy(ctx: GatewayContext, pbxAddresses: Set<string>): void {
  const app = ctx.pbx.app;
  app.transport.sourceFilter = (address) => pbxAddresses.has(address);
  app.use(inDialogRelay(ctx, 'pbx'));
  for (const method of ['INVITE', 'SUBSCRIBE', 'REFER']) {
    app.method(method, (req, res) => toSet(ctx, req, res, (plan) => relayNewDialog(ctx, req, res, plan)));
  }
  for (const method of ['MESSAGE', 'INFO', 'NOTIFY', 'PUBLISH']) {
    app.method(method, (req, res) => toSet(ctx, req, res, (plan) => relayRequest(ctx, req, res, plan)));
  }
  for (const method of ['BYE', 'UPDATE', 'PRACK']) app.method(method, (_req, res) => void res.send(481));
}

/** The set a request from the pbx is for: the binding whose token is the Request-URI's user. */
function toSet(ctx: GatewayContext, req: IncomingRequest, res: OutgoingResponse, relay: (plan: RelayPlan) => Promise<void>): void {
  const target = req.requestUri;
  const token = 'user' in target ? target.user : undefined;
  const reg = token ? ctx.registrations.byTokenOf(token) : undefined;
  if (!reg) return void res.send(404);
  const destination = setDestination(reg.contact, reg.flow, reg.instance !== undefined);
  if (destination.flow && !ctx.setApp.transport.isFlowOpen(destination.flow)) return void res.send(480, 'Temporarily Unavailable (the set\'s connection is closed)');
  const from = callerIdentity(req);
  const fromUser = 'user' in from.uri && from.uri.user ? from.uri.user : 'anonymous';
  relay({
    from: 'pbx',
    uri: reg.contact,
    destination,
    fromHeader: `${from.displayName ? `${from.displayName} ` : ''}<sip:${fromUser}@${ctx.publicAddress}>`,
    toHeader: `<sip:${reg.user}@${ctx.publicAddress}>`,
    setUser: reg.user,
    headers: replacesHeader(ctx, 'pbx', req),
  }).catch((e: unknown) => {
    ctx.logger.error({ err: e, method: req.method, callId: req.callId }, 'relay failed');
    if (!res.finalResponseSent) void res.send(500);
  });
}

/**
 * Who calls, as the set is told: the pbx's P-Asserted-Identity (RFC 3325: the pbx is the one
 * trusted party here, and it asserts from its subscriber record), else its From.
 */
function callerIdentity(req: IncomingRequest): NameAddr {
  const asserted = req.getAll('p-asserted-identity').flatMap((v) => v.split(/,(?=\s*(?:"|<|sip:|sips:))/));
  for (const value of asserted) {
    try {
      const identity = parseNameAddr(value, 'P-Asserted-Identity');
      if (identity.uri.scheme === 'sip' || identity.uri.scheme === 'sips') return identity;
    } catch {
      // A malformed assertion is no identity: the From stands.
    }
  }
  return req.msg.from;
}
