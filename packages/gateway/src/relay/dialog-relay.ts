import {
  ClientInviteTransaction, Dialog, type Credentials, type Destination, type Flow, type IncomingRequest, type OutgoingResponse,
  type RequestResult, type SipApp, type SipRequest, type SipResponse,
} from '@psi-lab/sip';
import type { GatewayContext } from '../context.js';
import { B2bCall, RelayRefusal, gatewayContact, newLegCallId, otherSide, type Side } from './b2b-call.js';
import { requestHeaders, responseHeaders, type HeaderList } from './headers.js';

let sessionCounter = 0;
/** How long a call may ring before the gateway gives up on it (Timer C is "more than 3 minutes"). */
export const RING_LIMIT_MS = 180_000;
const MAX_SUBSCRIPTION_S = 3600;

/** Where a dialog-creating request is relayed to, decided by the side's policy. */
export interface RelayPlan {
  /** The side the request came from. */
  from: Side;
  uri: string;
  destination: Partial<Destination>;
  fromHeader: string;
  toHeader: string;
  /** The set-side user of this dialog (caller or callee). */
  setUser: string;
  /** Extra headers for the new request (e.g. Refer-To rewritten). */
  headers?: HeaderList;
}

/**
 * Relay a dialog-creating request (INVITE, SUBSCRIBE, REFER) as a back-to-back agent: a new
 * request on the other side, provisional responses and the final one carried back, CANCEL
 * passed on, SDP rewritten to the gateway's media ports, and both legs' dialogs remembered so
 * that later requests (re-INVITE, UPDATE, PRACK, BYE, NOTIFY...) find their way.
 */
export async function relayNewDialog(ctx: GatewayContext, req: IncomingRequest, res: OutgoingResponse, plan: RelayPlan): Promise<void> {
  const call = new B2bCall(ctx, req.method, plan.from);
  try {
    await relay(ctx, call, req, res, plan);
  } catch (e) {
    call.end('relay failed');
    throw e;
  }
}

async function relay(ctx: GatewayContext, call: B2bCall, req: IncomingRequest, res: OutgoingResponse, plan: RelayPlan): Promise<void> {
  const to = otherSide(plan.from);
  const toApp = to === 'set' ? ctx.setApp : ctx.pbx.app;
  const fromApp = plan.from === 'set' ? ctx.setApp : ctx.pbx.app;
  call.setUser = plan.setUser;
  call.peer = userPart(plan.from === 'set' ? plan.toHeader : plan.fromHeader);
  call.inviteSeq[plan.from] = req.msg.cseq.seq;
  call.setLeg(plan.from, Dialog.fromIncoming(fromApp, req, res.toTag, { keepFlow: plan.from === 'set', protocol: sideProtocol(ctx, plan.from) }));
  if (req.method === 'INVITE') {
    call.media = ctx.media.createSession(`${req.callId}#${++sessionCounter}`);
    // Media from the set side is taken only from the set's own address.
    const setAddress = plan.from === 'set' ? req.flow.remote.address : plan.destination.address;
    if (setAddress) call.media.trustSetAddress(setAddress);
  }

  let transaction: ClientInviteTransaction | undefined;
  let sent: SipRequest | undefined;
  // The Reason travels on: "Call completed elsewhere" keeps the other phones from logging a missed call.
  req.on('cancel', (cancel) => void transaction?.cancel(cancel.get('reason') ?? 'SIP;cause=487;text="the caller cancelled"'));
  // Provisional responses are relayed in order, each after its SDP is rewritten.
  let provisionals = Promise.resolve();
  const auth: Credentials | undefined = to === 'pbx' ? ctx.pbx.icp(plan.setUser) : undefined;

  let offer: Buffer | undefined;
  try {
    offer = await call.body(plan.from, req.msg);
  } catch (e) {
    call.end('offer refused');
    if (!(e instanceof RelayRefusal)) throw e;
    return void res.send(e.status, e.reason);
  }
  // Timer C (RFC 3261 §16.6): a call that rings for ever is given up, and the caller told so.
  let ringTimedOut = false;
  const ringLimit = setTimeout(() => {
    ringTimedOut = true;
    void transaction?.cancel('SIP;cause=480;text="no answer"');
  }, RING_LIMIT_MS);
  ringLimit.unref();

  let result: RequestResult;
  try {
    result = await toApp.request({
      method: req.method, uri: plan.uri, destination: plan.destination,
      from: plan.fromHeader, to: plan.toHeader, callId: newLegCallId(ctx, to),
      headers: [...requestHeaders(req.msg), ...(plan.headers ?? []), ['Contact', gatewayContact(ctx, to, plan.destination.flow)]], body: offer, auth,
      onTransaction: (tx) => {
        if (tx instanceof ClientInviteTransaction) transaction = call.pending = tx;
        sent = tx.request;
        call.inviteSeq[to] = tx.request.cseq.seq;
        if (req.method === 'REFER') call.noteRefer(plan.from, req.msg.cseq.seq, tx.request.cseq.seq);
        if (req.canceled) void transaction?.cancel();
      },
      onProvisional: (response) => {
        if (response.status === 100) return;
        provisionals = provisionals.then(() => relayProvisional(ctx, call, to, toApp, sent, plan.destination.flow, response, res, req.flow)).catch(() => undefined);
      },
    });
  } catch (e) {
    call.end('no answer from the other side');
    if (!res.finalResponseSent) void res.send(/timeout/.test((e as Error).message) ? 408 : 503);
    return;
  } finally {
    clearTimeout(ringLimit);
    call.pending = undefined;
  }
  await provisionals;
  const response = result.response;
  if (response.status >= 300) {
    call.end(`refused ${response.status}`);
    if (res.finalResponseSent) return;
    if (ringTimedOut) return void res.send(480, 'Temporarily Unavailable (no answer)');
    return void res.send(outwardStatus(response.status), response.reason, { headers: responseHeaders(response) });
  }
  const early = call.legs[to];
  const leg = Dialog.fromResponse(toApp, result.request, response, { flow: to === 'set' ? result.flow : undefined, protocol: sideProtocol(ctx, to) });
  // PRACKs and UPDATEs of the early dialog used CSeq numbers the confirmed dialog must go past.
  if (early && early.state.remoteTag === leg.state.remoteTag) leg.state.localSeq = Math.max(leg.state.localSeq, early.state.localSeq);
  if (req.canceled || res.finalResponseSent || call.ended) {
    // The caller gave up (or its connection died) while the callee answered: end the leg that did answer.
    void leg.request('BYE', { auth }).catch(() => undefined);
    call.end('answered after cancel');
    return;
  }
  call.setLeg(to, leg);
  let answerBody: Buffer | undefined;
  try {
    answerBody = await call.body(to, response);
  } catch (e) {
    ctx.logger.warn({ err: (e as Error).message }, 'answer not relayable: hanging up the leg that answered');
    void leg.request('BYE', { auth }).catch(() => undefined);
    call.end('answer refused');
    const refusal = e instanceof RelayRefusal ? e : new RelayRefusal(500, 'Server Internal Error');
    return void res.send(refusal.status, refusal.reason);
  }
  call.markEstablished();
  if (req.method === 'INVITE') call.noteSessionRefresh(response);
  else call.touch(subscriptionSeconds(req, response));
  const answer = await res.send(response.status, response.reason, { headers: [...responseHeaders(response), ['Contact', gatewayContact(ctx, plan.from, req.flow)]], body: answerBody });
  if (req.method === 'INVITE' && req.flow.protocol === 'udp') retransmitUntilAck(ctx, call, plan.from, req.msg.cseq.seq, res, answer);
  if (req.method !== 'INVITE' && req.method !== 'SUBSCRIBE' && req.method !== 'REFER') call.end('no dialog');
}

/** How long a subscription (SUBSCRIBE, or REFER's implicit one) lives: what the answer says, at most an hour. */
export function subscriptionSeconds(req: IncomingRequest, response: SipResponse): number {
  const asked = response.expires ?? (req.method === 'REFER' ? MAX_SUBSCRIPTION_S : req.msg.expires ?? MAX_SUBSCRIPTION_S);
  return Math.min(asked, MAX_SUBSCRIPTION_S);
}

async function relayProvisional(ctx: GatewayContext, call: B2bCall, to: Side, toApp: SipApp, sent: SipRequest | undefined, setFlow: Flow | undefined, response: SipResponse, res: OutgoingResponse, replyFlow: Flow): Promise<void> {
  if (res.finalResponseSent || call.ended) return;
  // An early dialog (RFC 3261 §12.1): PRACK and UPDATE may cross the gateway before the answer.
  const tag = response.to.tag;
  if (sent && tag && call.legs[to]?.state.remoteTag !== tag) {
    call.setLeg(to, Dialog.fromResponse(toApp, sent, response, { flow: to === 'set' ? setFlow : undefined, protocol: sideProtocol(ctx, to) }));
  }
  let body: Buffer | undefined;
  try {
    body = await call.body(to, response);
  } catch (e) {
    ctx.logger.info({ err: (e as Error).message, status: response.status }, 'provisional response not relayed (its SDP)');
    return;
  }
  if (res.finalResponseSent) return;
  await res.send(response.status, response.reason, { headers: [...responseHeaders(response), ['Contact', gatewayContact(ctx, otherSide(to), replyFlow)]], body });
}

/**
 * Over UDP the UAS core repeats its 2xx until the ACK comes (RFC 3261 §13.3.1.4); without an
 * ACK in 32 s the call is hung up on both sides.
 */
export function retransmitUntilAck(ctx: GatewayContext, call: B2bCall, side: Side, cseq: number, res: OutgoingResponse, response: SipResponse): void {
  const T1 = 500;
  const T2 = 4000;
  let interval = T1;
  let waited = 0;
  const tick = (): void => {
    if (call.ended || call.ackedSeq[side] >= cseq) return;
    if (waited >= 64 * T1) {
      ctx.logger.warn({ method: call.method }, 'no ACK for a 2xx: hanging up');
      for (const side of ['set', 'pbx'] as const) void call.legs[side]?.request('BYE', { auth: side === 'pbx' ? call.icpAuth() : undefined }).catch(() => undefined);
      call.end('no ACK');
      return;
    }
    void res.relay(response);
    waited += interval;
    interval = Math.min(2 * interval, T2);
    setTimeout(tick, interval).unref();
  };
  setTimeout(tick, interval).unref();
}

/** A challenge from the pbx means the gateway's own ICP credentials failed: not the set's to answer. */
export function outwardStatus(status: number): number {
  return status === 401 || status === 407 ? 403 : status;
}

function userPart(nameAddr: string): string {
  return /sips?:([^@;>]+)@/i.exec(nameAddr)?.[1] ?? '?';
}

function sideProtocol(ctx: GatewayContext, side: Side): 'udp' | 'tcp' | undefined {
  return side === 'pbx' ? ctx.pbx.target.transport : undefined;
}
