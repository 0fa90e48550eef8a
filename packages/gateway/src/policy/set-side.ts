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
 *   1. access list and blocks: black-listed or blocked sources are dropped before parsing;
 *   2. screening: known scanners, blocked User-Agents and floods are dropped unanswered;
 *   3. in-dialog requests follow their dialog to the pbx leg (481 when there is none);
 *   4. digest authentication, MD5 (SHA-256 offered too): 401 for REGISTER, 407 otherwise;
 *   5. only a registered set may send anything else on to the pbx;
 *   6. REGISTER → the pbx registers the gateway's contact for the set;
 *      INVITE, SUBSCRIBE, REFER → a new dialog toward the pbx; MESSAGE and the like → relayed.
 */
export function installSetSidePolicy(ctx: GatewayContext, security: SetSideSecurity): void {
  const app = ctx.setApp;
  const { access, blocker } = security;
  const isScanner = scannerUserAgentMatcher(security.config.scannerUserAgents);

  app.transport.sourceFilter = (address) => {
    if (access.allows(address) && blocker.allowsSource(address)) return true;
    ctx.counters.dropped++;
    return false;
  };
  app.requestFilter = (msg, flow) => {
    ctx.counters.requests++;
    const ua = msg.get('user-agent');
    const address = flow.remote.address;
    if (isScanner(ua)) {
      ctx.counters.scannersDropped++;
      ctx.counters.dropped++;
      // Still counted: a scanner that floods gets its source blocked before parsing.
      if (!access.isWhite(address)) blocker.recordRequest(address);
      return false;
    }
    if (!blocker.allowsUserAgent(ua) || (!access.isWhite(address) && !blocker.recordRequest(address))) {
      ctx.counters.dropped++;
      return false;
    }
    return true;
  };
  app.transport.on('rejected', (_error, flow) => {
    ctx.counters.malformed++;
    // Garbage counts toward the flood limit like any request: it never reaches requestFilter.
    if (!access.isWhite(flow.remote.address)) blocker.recordRequest(flow.remote.address);
  });

  app.use(inDialogRelay(ctx, 'set'));
  app.use(setAuthentication(ctx, {
    algorithms: security.auth.algorithms,
    nonceTtlSeconds: security.auth.nonceTtlSeconds,
    onFailure: (req, reason) => {
      ctx.logger.info({ source: req.sourceAddress, method: req.method, reason, userAgent: req.get('user-agent') }, 'set authentication failed');
      if (!access.isWhite(req.sourceAddress)) blocker.recordAuthFailure(req.sourceAddress, req.get('user-agent'));
    },
  }));
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

/** Address a set's request to the pbx: same user part, the pbx's domain, the set's ICP-side identity. */
function toPbx(ctx: GatewayContext, req: IncomingRequest, res: OutgoingResponse, relay: (plan: RelayPlan) => Promise<void>): void {
  const user = (req.locals as SetLocals).user!;
  const target = req.requestUri as SipUri;
  if (!('user' in target) || !target.user) return void res.send(484, 'Address Incomplete');
  const icp = ctx.pbx.icp(user);
  const display = req.msg.from.displayName;
  const domain = ctx.pbx.domain;
  relay({
    from: 'set',
    uri: ctx.pbx.uri(target.user),
    destination: ctx.pbx.destination,
    fromHeader: `${display ? `${display} ` : ''}<sip:${icp?.username ?? user}@${domain}>`,
    toHeader: `<sip:${target.user}@${domain}>`,
    setUser: user,
    headers: replacesHeader(ctx, 'set', req),
  }).catch((e: unknown) => {
    ctx.logger.error({ err: e, method: req.method, callId: req.callId }, 'relay failed');
    if (!res.finalResponseSent) void res.send(500);
  });
}
