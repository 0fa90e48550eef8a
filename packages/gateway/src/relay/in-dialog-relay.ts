import type { Dialog, Flow, IncomingRequest, Middleware, OutgoingResponse, RequestResult } from '@psi-lab/sip';
import type { GatewayContext } from '../context.js';
import { CONTACT_METHODS, RelayRefusal, gatewayContact, otherSide, type B2bCall, type Side } from './b2b-call.js';
import { outwardStatus, retransmitUntilAck, subscriptionSeconds } from './dialog-relay.js';
import { requestHeaders, responseHeaders, rewriteReferTo, type HeaderList } from './headers.js';

/**
 * Requests inside a relayed dialog (a To tag of ours): found by Call-ID and tag among the dialogs
 * of the side they came from, then carried to the other leg with that leg's Call-ID, tags and
 * CSeq. Unknown dialogs get 481; a set-side dialog only takes requests from its own set.
 */
export function inDialogRelay(ctx: GatewayContext, side: Side): Middleware {
  return (req, res, next) => {
    if (req.msg.to.tag === undefined) return next();
    const dialog = ctx.dialogs[side].match(req.msg);
    if (!dialog) return void res.send(481);
    // The set that owns the dialog, over one of its own flows: another port on its address is someone else.
    if (side === 'set' && !fromDialogSet(ctx, dialog, req.flow)) {
      ctx.logger.warn({ callId: req.callId, method: req.method, from: `${req.sourceAddress}:${req.sourcePort}` }, 'in-dialog request from another flow than the dialog\'s set: refused');
      return void res.send(403, 'Forbidden (not from the dialog\'s set)');
    }
    relayInDialog(ctx, dialog.owner as B2bCall, side, dialog, req, res).catch((e: unknown) => {
      ctx.logger.error({ err: e, method: req.method, callId: req.callId }, 'in-dialog relay failed');
      if (!res.finalResponseSent) void res.send(500);
    });
  };
}

/**
 * Whether a request inside a set-side dialog comes from the set that owns it: over the flow the
 * dialog was made on, or over a flow the set is registered on (a set reached at its Contact
 * port answers there, and may hang up over its registration's connection). With neither —
 * a dialog whose set has no registration left — nobody is.
 */
export function fromDialogSet(ctx: GatewayContext, dialog: Dialog, flow: Flow): boolean {
  const kept = dialog.state.flow;
  if (kept && sameSetFlow(kept, flow)) return true;
  const user = (dialog.owner as B2bCall | undefined)?.setUser;
  return user !== undefined && ctx.registrations.forUser(user).some((reg) => sameSetFlow(reg.flow, flow));
}

/**
 * Whether a request came over the flow a set-side dialog was made on: the very connection for
 * TCP, TLS and WebSocket, the same address and port for UDP. Another port on the set's address
 * is someone else.
 */
export function sameSetFlow(kept: Flow, flow: Flow): boolean {
  if (kept.protocol !== flow.protocol) return false;
  if (kept.protocol === 'udp') return kept.remote.address === flow.remote.address && kept.remote.port === flow.remote.port;
  return kept.id === flow.id;
}

async function relayInDialog(ctx: GatewayContext, call: B2bCall, side: Side, dialog: Dialog, req: IncomingRequest, res: OutgoingResponse): Promise<void> {
  dialog.noteRequest(req.msg);
  call.touch();
  const to = otherSide(side);
  const target = call.legs[to];
  if (!target || call.ended) return void res.send(481);
  const method = req.method;
  const headers = translateHeaders(ctx, call, side, req);
  if (CONTACT_METHODS.has(method)) headers.push(['Contact', gatewayContact(ctx, to, target.state.flow)]);
  let result: RequestResult;
  let body: Buffer | undefined;
  try {
    body = await call.body(side, req.msg);
  } catch (e) {
    if (!(e instanceof RelayRefusal)) throw e;
    return void res.send(e.status, e.reason);
  }
  try {
    result = await target.request(method, {
      headers, body, auth: to === 'pbx' ? call.icpAuth() : undefined,
      onTransaction: (tx) => {
        if (method === 'REFER') call.noteRefer(side, req.msg.cseq.seq, tx.request.cseq.seq);
      },
      onProvisional: (r) => {
        if (method === 'INVITE' && r.status > 100 && !res.finalResponseSent) {
          call.body(to, r).then((b) => {
            if (!res.finalResponseSent) void res.send(r.status, r.reason, { headers: responseHeaders(r), body: b });
          }, (e: Error) => ctx.logger.info({ err: e.message }, 'provisional response not relayed'));
        }
      },
    });
  } catch (e) {
    if (method === 'BYE') {
      // A BYE ends the dialog whatever the far side says (RFC 3261 §15.1.2).
      call.end('bye (far side unreachable)');
      return void res.send(200);
    }
    ctx.logger.info({ method, err: (e as Error).message }, 'in-dialog request not relayed');
    return void res.send(/timeout/.test((e as Error).message) ? 408 : 503);
  }
  const response = result.response;
  let answer: Buffer | undefined;
  try {
    answer = await call.body(to, response);
  } catch (e) {
    // The far side accepted something we cannot relay (its SDP): the session cannot go on.
    ctx.logger.warn({ method, err: (e as Error).message }, 'answer not relayable: hanging up');
    if (!res.finalResponseSent) void res.send(500, 'Server Internal Error (the answer could not be relayed)');
    hangUp(call);
    return;
  }
  const back = responseHeaders(response);
  if (response.status < 300 && CONTACT_METHODS.has(method)) back.push(['Contact', gatewayContact(ctx, side, req.flow)]);
  if (!res.finalResponseSent) {
    const sent = await res.send(outwardStatus(response.status), response.reason, { headers: back, body: answer });
    // A re-INVITE's 2xx is ours to repeat over UDP until its ACK, like the first one's.
    if (method === 'INVITE' && response.status < 300 && req.flow.protocol === 'udp') retransmitUntilAck(ctx, call, side, req.msg.cseq.seq, res, sent);
  }
  if (method === 'SUBSCRIBE' && response.status < 300) call.touch(subscriptionSeconds(req, response));
  if ((method === 'INVITE' || method === 'UPDATE') && response.status < 300 && call.isCall) call.noteSessionRefresh(response);
  // A 481 to NOTIFY or SUBSCRIBE ends only that subscription, not the call it rides on (RFC 5057 §5.2).
  const dialogGone = response.status === 481 && (call.isCall ? method !== 'NOTIFY' && method !== 'SUBSCRIBE' : true);
  if (method === 'BYE' || dialogGone) call.end(method === 'BYE' ? 'bye' : 'dialog gone (481)');
  else if (method === 'NOTIFY' && !call.isCall && /^\s*terminated/i.test(req.get('subscription-state') ?? '')) call.end('subscription terminated');
}

/** BYE on both legs and forget the call. */
export function hangUp(call: B2bCall): void {
  for (const side of ['set', 'pbx'] as const) {
    void call.legs[side]?.request('BYE', { auth: side === 'pbx' ? call.icpAuth() : undefined }).catch(() => undefined);
  }
  call.end('hung up by the gateway');
}

function translateHeaders(ctx: GatewayContext, call: B2bCall, side: Side, req: IncomingRequest): HeaderList {
  const to = otherSide(side);
  const headers = requestHeaders(req.msg);
  const rack = req.get('rack');
  if (rack) {
    // RAck names the INVITE by its CSeq on this leg (RFC 3262 §7.2): give the other leg's.
    const [rseq, , method] = rack.trim().split(/\s+/);
    headers.push(['RAck', `${rseq} ${call.inviteSeq[to] ?? 1} ${method ?? 'INVITE'}`]);
  }
  const event = req.get('event');
  if (event) {
    const i = headers.findIndex(([n]) => n.toLowerCase() === 'event');
    headers[i] = ['Event', translateReferEventId(call, side, event)];
  }
  const referredBy = req.get('referred-by');
  if (referredBy) {
    const hostport = to === 'pbx' ? `${ctx.pbx.domain}:${ctx.pbx.target.port}` : ctx.publicAddress;
    const i = headers.findIndex(([n]) => n.toLowerCase() === 'referred-by');
    if (i >= 0) headers.splice(i, 1);
    headers.push(['Referred-By', rewriteReferTo(referredBy, hostport, () => undefined)]);
  }
  const referTo = req.get('refer-to');
  if (referTo) {
    const hostport = to === 'pbx' ? `${ctx.pbx.domain}:${ctx.pbx.target.port}` : ctx.publicAddress;
    headers.push(['Refer-To', rewriteReferTo(referTo, hostport, (replaces) => mapReplacedDialog(ctx, side, replaces))]);
  }
  return headers;
}

/**
 * `refer;id=N` names the REFER whose CSeq was N on the sender's leg: the other leg knows that
 * REFER by its own CSeq. Other events, and an id no REFER had, pass unchanged.
 */
export function translateReferEventId(call: B2bCall, side: Side, event: string): string {
  const m = /^(\s*refer\s*(?:;[^;]*)*?;\s*id\s*=\s*)(\d+)(.*)$/i.exec(event);
  if (!m) return event;
  const id = call.referIdOnOtherLeg(side, Number(m[2]));
  return id === undefined ? event : `${m[1]}${id}${m[3]}`;
}

/**
 * An INVITE with Replaces (attended transfer, call pickup) names a dialog on its own side: the
 * request on the other side must name that call's other leg, or it would be a new call.
 */
export function replacesHeader(ctx: GatewayContext, side: Side, req: IncomingRequest): HeaderList {
  const value = req.get('replaces');
  const mapped = value ? mapReplaces(ctx, side, value) : undefined;
  return mapped ? [['Replaces', mapped]] : [];
}

export function mapReplaces(ctx: GatewayContext, side: Side, replaces: string): string | undefined {
  return mapReplacedDialog(ctx, side, replaces)?.replaces;
}

/**
 * The dialog a Replaces value names on `side`, as the same call's other leg knows it: its
 * `callid;to-tag;from-tag`, and the user that leg talks to (the party to be reached).
 */
export function mapReplacedDialog(ctx: GatewayContext, side: Side, replaces: string): { replaces: string; remoteUser?: string } | undefined {
  const [callId, ...params] = replaces.split(';');
  const toTag = params.find((p) => p.toLowerCase().startsWith('to-tag='))?.slice(7);
  const fromTag = params.find((p) => p.toLowerCase().startsWith('from-tag='))?.slice(9);
  // to-tag names the end the request is aimed at (RFC 3891 §3). Found by its to-tag, we are that
  // end: the party is behind the call's other leg. Found by its from-tag, the party is at the far
  // end of this very leg, and the other leg must be named from our end of it.
  const byTo = toTag ? ctx.dialogs[side].get(callId, toTag) : undefined;
  const local = byTo ?? (fromTag ? ctx.dialogs[side].get(callId, fromTag) : undefined);
  const call = local?.owner as B2bCall | undefined;
  const other = call?.legs[otherSide(side)];
  if (!other) return undefined;
  const [to, from] = byTo ? [other.state.remoteTag, other.state.localTag] : [other.state.localTag, other.state.remoteTag];
  return { replaces: `${other.state.callId};to-tag=${to};from-tag=${from}`, remoteUser: userOf(other.state.remoteUri) };
}

function userOf(nameAddr: string): string | undefined {
  return /sips?:([^@;>]+)@/i.exec(nameAddr)?.[1];
}
