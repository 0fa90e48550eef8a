import type { SipRequest, SipResponse } from '../message/index.js';
import type { Destination, Flow } from '../transport/flow.js';
import { ClientInviteTransaction } from './client-invite.js';
import { ClientNonInviteTransaction } from './client-non-invite.js';
import type { ClientTransaction, ClientTransactionHandlers, ClientTransactionInit } from './client-transaction.js';
import { TypedEmitter } from './emitter.js';
import { clientKey, hasUniqueBranch, responseKey } from './matching.js';
import { ServerInviteTransaction } from './server-invite.js';
import { ServerNonInviteTransaction } from './server-non-invite.js';
import { ServerTransactionTable } from './server-table.js';
import type { ServerTransaction } from './server-transaction.js';
import type { TransactionContext } from './transaction.js';
import { DEFAULT_TIMERS, systemClock, type Clock, type MessageSender, type TimerValues } from './types.js';

export interface TransactionLayerOptions {
  clock?: Clock;
  timers?: Partial<TimerValues>;
}

export interface TransactionLayerEvents {
  /** An ACK for a 2xx: end to end, outside any transaction (§13.3.1.4, RFC 6026), for the dialog layer. */
  ack: [request: SipRequest, flow: Flow];
  /** A response no client transaction wants, e.g. a 2xx retransmitted after Timer M. */
  'stray-response': [response: SipResponse, flow: Flow];
}

export interface TransactionCounts {
  client: number;
  server: number;
}

/**
 * RFC 3261 §17: matches incoming messages to transactions, creates server transactions for new
 * requests, starts client transactions for outgoing ones, and forgets each when it terminates.
 */
export class TransactionLayer extends TypedEmitter<TransactionLayerEvents> {
  private readonly context: TransactionContext;
  private readonly clients = new Map<string, ClientTransaction>();
  private readonly servers = new ServerTransactionTable();

  constructor(sender: MessageSender, options: TransactionLayerOptions = {}) {
    super();
    this.context = {
      sender,
      clock: options.clock ?? systemClock,
      timerValues: { ...DEFAULT_TIMERS, ...definedOnly(options.timers) },
      sendRequest: (request, destination) => this.sendRequest(request, destination),
    };
  }

  /** Live transactions; both are 0 once every transaction has terminated. */
  get size(): TransactionCounts {
    return { client: this.clients.size, server: this.servers.size };
  }

  /**
   * A request from the transport. Returns the new server transaction the TU must answer, or
   * undefined when the layer dealt with it: a retransmission (answered with the last response),
   * an ACK absorbed by its INVITE transaction, or an ACK for a 2xx (emitted as 'ack').
   */
  receiveRequest(request: SipRequest, flow: Flow): ServerTransaction | undefined {
    const existing = this.servers.find(request);
    if (request.method === 'ACK') {
      const disposition = existing instanceof ServerInviteTransaction ? existing.receiveAck(request, flow) : 'to-tu';
      if (disposition === 'to-tu') this.emit('ack', request, flow);
      return undefined;
    }
    if (existing) {
      existing.receiveRetransmission(request, flow);
      return undefined;
    }
    let transaction: ServerTransaction;
    const init = {
      context: this.context,
      request,
      flow,
      onTerminated: () => this.servers.remove(transaction),
    };
    transaction = request.method === 'INVITE' ? new ServerInviteTransaction(init) : new ServerNonInviteTransaction(init);
    this.servers.add(transaction);
    return transaction;
  }

  /** Whether a server transaction already holds this request (it is a retransmission). */
  hasServerTransaction(request: SipRequest): boolean {
    return this.servers.find(request) !== undefined;
  }

  /**
   * The INVITE server transaction a CANCEL names (§9.2): the one the CANCEL would match were
   * its method INVITE. Undefined when there is none (the TU answers the CANCEL 481).
   */
  findInviteTransaction(cancel: SipRequest): ServerInviteTransaction | undefined {
    const found = this.servers.find(cancel, 'INVITE');
    return found instanceof ServerInviteTransaction ? found : undefined;
  }

  /** A response from the transport: true when a client transaction took it (§17.1.3). */
  receiveResponse(response: SipResponse, flow: Flow): boolean {
    const key = responseKey(response);
    const transaction = key === undefined ? undefined : this.clients.get(key);
    if (!transaction) {
      this.emit('stray-response', response, flow);
      return false;
    }
    transaction.receiveResponse(response, flow);
    return true;
  }

  /**
   * Start a client transaction: INVITE gets a ClientInviteTransaction (narrow with instanceof
   * to reach `cancel`), anything else but ACK a ClientNonInviteTransaction. The request must
   * carry its top Via with a branch (ideally `newBranch()`); `handlers` are attached before
   * anything is sent.
   */
  sendRequest(request: SipRequest, destination: Destination, handlers?: ClientTransactionHandlers): ClientTransaction {
    const branch = checkSendable(request);
    const key = clientKey(branch, request.method);
    if (this.clients.has(key)) {
      throw new Error(`a ${request.method} client transaction with branch ${branch} is already running: every request needs a new branch`);
    }
    let transaction: ClientTransaction;
    const init: ClientTransactionInit = {
      context: this.context,
      request,
      destination,
      handlers,
      onTerminated: () => {
        if (this.clients.get(key) === transaction) this.clients.delete(key);
      },
    };
    transaction = request.method === 'INVITE' ? new ClientInviteTransaction(init) : new ClientNonInviteTransaction(init);
    this.clients.set(key, transaction);
    transaction.start();
    return transaction;
  }
}

/** The branch of a request fit to start a client transaction; throws explaining what is wrong. */
function checkSendable(request: SipRequest): string {
  if (request.method === 'ACK') {
    throw new Error('ACK is never sent in a client transaction: the INVITE transaction sends the ACK of a failure, the TU sends the ACK of a 2xx with the transport');
  }
  if (request.getAll('via').length === 0) {
    throw new Error(`${request.method} has no Via: add a top Via with a branch (newBranch()) before sending it in a transaction`);
  }
  const via = request.via;
  if (via.branch === undefined || via.branch === '') {
    throw new Error(`${request.method}'s top Via has no branch parameter: add one (newBranch()) before sending it in a transaction`);
  }
  if (!hasUniqueBranch(via)) {
    throw new Error(`${request.method}'s branch "${via.branch}" lacks the z9hG4bK magic cookie (RFC 3261 §8.1.1.7): use newBranch()`);
  }
  if (request.cseq.method !== request.method) {
    throw new Error(`CSeq method ${request.cseq.method} differs from the request method ${request.method} (§8.1.1.5)`);
  }
  return via.branch;
}

/** `{ T1: undefined }` must not erase the default T1. */
function definedOnly(values: Partial<TimerValues> | undefined): Partial<TimerValues> {
  const out: Partial<TimerValues> = {};
  for (const name of ['T1', 'T2', 'T4'] as const) {
    const value = values?.[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}
