import { ClientInviteTransaction, createResponse, type ClientTransaction, type Destination, type IncomingRequest, type OutgoingResponse, type SipApp, type SipResponse } from '@psi-lab/sip';
import type { Logger } from 'pino';
import type { AuthenticatedLocals } from '../registrar/registrar.js';
import type { Forwarding, PbxStore } from '../store/types.js';
import { peerAt, requesterPeer, type DialogPeer, type DialogRoutes } from './dialog-routes.js';
import { assertCallerIdentity } from './caller-identity.js';
import { bindingDestination, forwardedRequest, upstreamResponse } from './next-hop.js';

export interface CallRoutingContext {
  app: SipApp;
  store: PbxStore;
  now: () => number;
  /** Where numbers starting with 0 go (SIPp standing in for the PSTN). */
  trunk?: { address: string; port: number };
  /** Our Record-Route value, so in-dialog requests come back through us. */
  recordRoute: string;
  /** Where the dialogs this call makes are remembered, for routing what follows inside them. */
  dialogs: DialogRoutes;
  logger: Logger;
}

/** RFC 3326 Reason on the CANCELs of the branches that lost: their sets log no missed call. */
export const COMPLETED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"';
const MAX_RETARGETS = 5;

interface Target {
  destination: Destination;
  uri: string;
  route: string[];
}

/**
 * One incoming call: resolves the dialled extension (DND, forwarding, trunk), rings every
 * registered contact at once, passes ringing upstream, and settles it: the first 2xx wins and
 * the other branches are cancelled "completed elsewhere"; when all fail, the best failure goes
 * back — or the call follows forward-on-busy / forward-on-no-answer.
 */
export class ForkedCall {
  private readonly visited = new Set<string>();
  private branches = new Map<ClientTransaction, SipResponse | undefined>();
  private generation = 0;
  private answered = false;
  private finished = false;
  private noAnswerTimer: NodeJS.Timeout | undefined;
  private readonly caller: DialogPeer;

  constructor(private readonly ctx: CallRoutingContext, private readonly req: IncomingRequest, private readonly res: OutgoingResponse) {
    this.caller = requesterPeer(req);
    req.on('cancel', () => {
      this.finished = true;
      this.stopTimer();
      this.cancelBranches();
      ctx.dialogs.dropEarly(req.msg);
    });
  }

  route(extension: string): void {
    if (this.finished) return;
    const { trunk, store } = this.ctx;
    if (trunk && extension.startsWith('0')) {
      return this.fork([{ destination: { protocol: 'udp', ...trunk }, uri: `sip:${extension}@${trunk.address}:${trunk.port}`, route: [] }], undefined);
    }
    const subscriber = store.getSubscriber(extension);
    if (!subscriber) return this.finish(404);
    if (this.visited.has(extension) || this.visited.size >= MAX_RETARGETS) return this.finish(482);
    this.visited.add(extension);
    const forward = (kind: Forwarding['kind']): Forwarding | undefined => subscriber.forwardings.find((f) => f.kind === kind);

    if (subscriber.dndActive && subscriber.dndAllowed) {
      const busy = forward('busy');
      return busy ? this.route(busy.target) : this.finish(486);
    }
    const all = forward('all');
    if (all) return this.route(all.target);
    const now = this.ctx.now();
    const bindings = store.bindings(extension).filter((b) => b.expiresAt > now);
    const noAnswer = forward('noAnswer');
    if (bindings.length === 0) return noAnswer ? this.route(noAnswer.target) : this.finish(480);
    const targets = bindings.map((b) => ({ destination: bindingDestination(this.ctx.app, b), uri: b.contact, route: b.path }));
    this.fork(targets, forward('busy'));
    if (noAnswer) {
      this.noAnswerTimer = setTimeout(() => {
        if (this.answered || this.finished) return;
        this.ctx.logger.info({ callId: this.req.callId, from: extension, to: noAnswer.target }, 'no answer: forwarding');
        this.cancelBranches();
        this.route(noAnswer.target);
      }, (noAnswer.delaySeconds ?? 20) * 1000);
      this.noAnswerTimer.unref();
    }
  }

  private fork(targets: Target[], onBusy: Forwarding | undefined): void {
    const generation = ++this.generation;
    this.branches = new Map();
    const user = (this.req.locals as AuthenticatedLocals).user;
    for (const target of targets) {
      const request = forwardedRequest(this.ctx.app, this.req.msg, target.uri, target.destination.protocol, target.route);
      request.prepend('Record-Route', this.ctx.recordRoute);
      // The callee learns who calls from the subscriber record, never from what the caller wrote.
      if (user !== undefined) assertCallerIdentity(request, this.ctx.store.getSubscriber(user), this.ctx.store.realm);
      const callee = peerAt(target.destination);
      let tx: ClientTransaction;
      try {
        tx = this.ctx.app.transactions.sendRequest(request, target.destination);
      } catch (e) {
        this.ctx.logger.warn({ err: (e as Error).message, target: target.uri }, 'branch not started');
        continue;
      }
      this.branches.set(tx, undefined);
      tx.on('provisional', (response) => {
        if (generation !== this.generation || this.answered || this.finished || response.status <= 100) return;
        const tag = response.to.tag;
        if (tag) this.ctx.dialogs.record(this.req.msg, tag, this.caller, callee, false);
        void this.res.relay(this.upstream(response));
      });
      tx.on('final', (response) => {
        const tag = response.to.tag;
        if (response.status < 300 && tag) this.ctx.dialogs.record(this.req.msg, tag, this.caller, callee, true);
        this.onFinal(generation, tx, response, onBusy);
      });
      tx.on('timeout', () => this.onFinal(generation, tx, createResponse(request, 408), onBusy));
      tx.on('transport-error', () => this.onFinal(generation, tx, createResponse(request, 503), onBusy));
    }
    if (this.branches.size === 0) this.finish(480);
  }

  private onFinal(generation: number, tx: ClientTransaction, response: SipResponse, onBusy: Forwarding | undefined): void {
    if (response.status < 300) {
      // Every 2xx goes upstream (a forked 2xx too: the caller's UA sorts out the dialogs).
      void this.res.relay(this.upstream(response));
      if (!this.answered) {
        this.answered = true;
        this.finished = true;
        this.stopTimer();
        this.cancelBranches(tx, COMPLETED_ELSEWHERE);
      }
      return;
    }
    if (generation !== this.generation || this.finished) return;
    this.branches.set(tx, response);
    if ([...this.branches.values()].some((r) => r === undefined)) return;
    const best = bestFailure([...this.branches.values()] as SipResponse[]);
    if (best.status === 486 && onBusy) {
      this.stopTimer();
      return this.route(onBusy.target);
    }
    this.finished = true;
    this.stopTimer();
    this.ctx.dialogs.dropEarly(this.req.msg);
    void this.res.relay(this.upstream(best));
  }

  /** A branch's response for the caller: our Via off, and the caller's own From back (we may have asserted another name). */
  private upstream(response: SipResponse): SipResponse {
    const copy = upstreamResponse(response);
    copy.set('From', this.req.msg.get('from')!);
    return copy;
  }

  private cancelBranches(except?: ClientTransaction, reason?: string): void {
    for (const [tx, final] of this.branches) {
      if (tx === except || final !== undefined) continue;
      if (tx instanceof ClientInviteTransaction) void tx.cancel(reason).catch(() => undefined);
    }
  }

  private finish(status: number): void {
    this.finished = true;
    this.stopTimer();
    this.ctx.dialogs.dropEarly(this.req.msg);
    if (!this.res.finalResponseSent) void this.res.send(status);
  }

  private stopTimer(): void {
    clearTimeout(this.noAnswerTimer);
    this.noAnswerTimer = undefined;
  }
}

/** RFC 3261 §16.7: a 6xx beats everything; otherwise the lowest class, 5xx last. */
function bestFailure(responses: SipResponse[]): SipResponse {
  const six = responses.find((r) => r.status >= 600);
  if (six) return six;
  return [...responses].sort((a, b) => rank(a.status) - rank(b.status))[0];
}

function rank(status: number): number {
  if (status >= 500) return 1000 + status;
  if (status === 408) return 900;
  return status;
}
