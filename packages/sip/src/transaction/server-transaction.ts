import type { SipRequest, SipResponse } from '../message/index.js';
import { isReliable, type Flow } from '../transport/flow.js';
import { Transaction, attempt, toError, type TransactionContext, type TransactionEvents, type TransactionState } from './transaction.js';

export type ServerTransactionEvents = TransactionEvents;

export interface ServerTransactionInit {
  context: TransactionContext;
  request: SipRequest;
  flow: Flow;
  onTerminated: () => void;
}

/**
 * The response side of a server transaction (§17.2): remembers the request and the last response
 * so that a retransmitted request can be answered again without bothering the TU.
 */
export abstract class ServerTransaction<TimerName extends string = string> extends Transaction<ServerTransactionEvents, TimerName> {
  readonly request: SipRequest;
  private requestFlow: Flow;
  private last: SipResponse | undefined;

  protected constructor(init: ServerTransactionInit, initialState: TransactionState) {
    super(init.context, initialState, init.onTerminated);
    this.request = init.request;
    this.requestFlow = init.flow;
  }

  get method(): string {
    return this.request.method;
  }

  /** The flow the request (or its latest retransmission) arrived on: where responses go. */
  get flow(): Flow {
    return this.requestFlow;
  }

  get reliable(): boolean {
    return isReliable(this.requestFlow.protocol);
  }

  /** The response most recently sent, which a retransmitted request gets again. */
  get lastResponse(): SipResponse | undefined {
    return this.last;
  }

  /** The To tag of the final response sent: an RFC 2543 ACK is matched by it (§17.2.3). */
  get responseToTag(): string | undefined {
    const last = this.last;
    if (!last || last.status < 200) return undefined;
    try {
      return last.to.tag;
    } catch {
      return undefined;
    }
  }

  /**
   * Send a response from the TU. Resolves once the transport took it; rejects when the state
   * forbids it (a second final response) or the send fails, which also terminates the transaction.
   */
  abstract respond(response: SipResponse): Promise<void>;

  /** The same request again (matched by the layer). */
  abstract receiveRetransmission(request: SipRequest, flow: Flow): void;

  /**
   * A retransmission that arrives over another flow (a new connection after the old one died, a
   * NAT rebinding) shows where the client can be reached now, so later responses follow it.
   */
  protected noteFlow(flow: Flow): void {
    this.requestFlow = flow;
  }

  /** Send and remember a response; the promise rejects on failure (already reported by 'transport-error'). */
  protected transmit(response: SipResponse): Promise<void> {
    this.last = response;
    return attempt(() => this.context.sender.sendResponse(response, this.requestFlow)).then(
      () => undefined,
      (error: unknown) => {
        const err = toError(error);
        this.fail(err);
        throw err;
      },
    );
  }

  /** Send the last response again (retransmission or timer G); failure is reported, not thrown. */
  protected retransmitLast(): void {
    if (this.last) this.transmit(this.last).catch(() => undefined);
  }

  protected refuse(response: SipResponse): Promise<void> {
    return Promise.reject(new Error(`${this.method} server transaction in state ${this.state} cannot send ${response.status}`));
  }
}
