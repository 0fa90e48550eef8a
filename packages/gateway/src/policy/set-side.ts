import type { IncomingRequest, OutgoingResponse, SipUri } from '@psi-lab/sip';
import type { GatewayConfig } from '../config/index.js';
import type { GatewayContext, SetLocals } from '../context.js';
import { registerRelay } from '../registrations/register-relay.js';
import { relayNewDialog, type RelayPlan } from '../relay/dialog-relay.js';
import { inDialogRelay, replacesHeader } from '../relay/in-dialog-relay.js';
import { relayRequest } from '../relay/request-relay.js';
import { scannerUserAgentMatcher, type AbuseBlocker, type AccessList } from '../security/index.js';
import { setAuthentication } from './set-authentication.js';

export interface SetSideSecurity {
  access: AccessList;
  blocker: AbuseBlocker;
  config: GatewayConfig['security'];
  auth: GatewayConfig['auth'];
}

/**
 * The set-side route block. Every message from a remote set passes, top to bottom:
 *   1. access list, blocks, flood limits: black-listed or blocked sources, a source over its
 *      flood limit, the heaviest sources of a second over the global budget — all dropped
 *      before parsing, unanswered;
 *   2. screening: known scanner User-Agents are dropped unanswered, before any transaction;
 *   -- stateless: answered without a transaction, so a flood of these costs no memory --
 *   3. OPTIONS outside a dialog is answered (a set's keepalive, a monitor's ping);
 *   4. a request inside a dialog the gateway does not know gets 481;
 *   5. digest authentication, MD5 (SHA-256 offered too): 401 for REGISTER, 407 otherwise;
 *   -- stateful: a transaction from here on --
 *   6. in-dialog requests follow their dialog to the pbx leg, only from the set's own flow;
 *   7. only a registered set may send anything else on to the pbx;
 *   8. REGISTER → the pbx registers the gateway's contact for the set;
 *      INVITE, SUBSCRIBE, REFER → a new dialog toward the pbx; MESSAGE and the like → relayed.
 */
export function installSetSidePolicy(ctx: GatewayContext, security: SetSideSecurity): void {
  const app = ctx.setApp;
  const { access, blocker } = security;
  const isScanner = scannerUserAgentMatcher(security.config.scannerUserAgents);

  app.transport.sourceFilter = (address) => {
    if (access.allows(address) && blocker.recordRequest(address)) return true;
    ctx.counters.dropped++;
    return false;
  };
  app.requestFilter = (msg) => {
    ctx.counters.requests++;
    if (!isScanner(msg.get('user-agent'))) return true;
    ctx.counters.scannersDropped++;
    ctx.counters.dropped++;
    return false;
  };
  app.transport.on('rejected', () => {
    ctx.counters.malformed++;
  });

  app.useStateless((req, res, next) => {
    if (req.method === 'OPTIONS' && req.msg.to.tag === undefined) return void res.send(200, { headers: app.capabilityHeaders() });
    next();
  });
  app.useStateless((req, res, next) => {
    if (req.msg.to.tag === undefined || req.method === 'ACK' || req.method === 'CANCEL') return next();
    if (ctx.dialogs.set.match(req.msg)) return next();
    void res.send(481);
  });
  app.useStateless(setAuthentication(ctx, {
    algorithms: security.auth.algorithms,
    nonceTtlSeconds: security.auth.nonceTtlSeconds,
    blocker,
    onFailure: (req, reason, user) => {
      ctx.logger.info({ source: `${req.sourceAddress}:${req.sourcePort}`, method: req.method, user, reason, userAgent: req.get('user-agent') }, 'set authentication failed');
      blocker.recordAuthFailure(req.sourceAddress, user);
    },
  }));

  app.use(inDialogRelay(ctx, 'set'));
  app.use((req, res, next) => {
    if (req.method === 'REGISTER' || req.method === 'OPTIONS') return next();
    const user = (req.locals as SetLocals).user;
    if (user && ctx.registrations.hasUser(user)) return next();
    void res.send(403, 'Forbidden (register through the gateway first)');
  });

  app.register(registerRelay(ctx));
  for (const method of ['INVITE', 'SUBSCRIBE', 'REFER']) {
    app.method(method, (req, res) => toPbx(ctx, req, res, (plan) => relayNewDialog(ctx, req, res, plan)));
  }
  for (const method of ['MESSAGE', 'INFO', 'PUBLISH', 'NOTIFY']) {
    app.method(method, (req, res) => toPbx(ctx, req, res, (plan) => relayRequest(ctx, req, res, plan)));
  }
  // Requests that only make sense inside a dialog, and none was found.
  for (const method of ['BYE', 'UPDATE', 'PRACK']) app.method(method, (_req, res) => void res.send(481));
}

/**
 * Address a set's request to the pbx: same user part, the pbx's domain, the set's ICP-side
 * identity. No display name crosses: the pbx asserts who calls from its subscriber record.
 */
function toPbx(ctx: GatewayContext, req: IncomingRequest, res: OutgoingResponse, relay: (plan: RelayPlan) => Promise<void>): void {
  const user = (req.locals as SetLocals).user!;
  const target = req.requestUri as SipUri;
  if (!('user' in target) || !target.user) return void res.send(484, 'Address Incomplete');
  const icp = ctx.pbx.icp(user);
  const domain = ctx.pbx.domain;
  relay({
    from: 'set',
    uri: ctx.pbx.uri(target.user),
    destination: ctx.pbx.destination,
    fromHeader: `<sip:${icp?.username ?? user}@${domain}>`,
    toHeader: `<sip:${target.user}@${domain}>`,
    setUser: user,
    headers: replacesHeader(ctx, 'set', req),
  }).catch((e: unknown) => {
    ctx.logger.error({ err: e, method: req.method, callId: req.callId }, 'relay failed');
    if (!res.finalResponseSent) void res.send(500);
  });
}
