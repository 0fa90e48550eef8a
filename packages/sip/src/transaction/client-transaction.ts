import type { SipMessage, SipRequest, SipResponse } from '../message/index.js';
import { isReliable, type Destination, type Flow } from '../transport/flow.js';
import type { EventHandlers } from './emitter.js';
import { Transaction, attempt, type TransactionContext, type TransactionEvents, type TransactionState } from './transaction.js';

export interface ClientTransactionEvents extends TransactionEvents {
  /** A 1xx; `flow` is where it arrived. */
  provisional: [response: SipResponse, flow: Flow];
  /** A final response passed up: once for non-2xx, once per 2xx (forks, retransmissions) for INVITE. */
  final: [response: SipResponse, flow: Flow];
}

export type ClientTransactionHandlers = EventHandlers<ClientTransactionEvents>;

/** What the layer hands a new client transaction. */
export interface ClientTransactionInit {
  context: TransactionContext;
  request: SipRequest;
  destination: Destination;
  handlers?: ClientTransactionHandlers;
  onTerminated: () => void;
}

/**
 * The request side of a client transaction (§17.1): sends the request over a destination and
 * keeps sending later messages (retransmissions, ACK, CANCEL) over the flow the first send used.
 */
export abstract class ClientTransaction<TimerName extends string = string> extends Transaction<ClientTransactionEvents, TimerName> {
  readonly request: SipRequest;
  /** The branch of the request's top Via: with the method, what responses are matched by. */
  readonly branch: string;
  private target: Destination;

  protected constructor(init: ClientTransactionInit, initialState: TransactionState) {
    super(init.context, initialState, init.onTerminated);
    this.request = init.request;
    this.branch = init.request.via.branch ?? '';
    this.target = init.destination;
    this.attach(init.handlers);
  }

  get method(): string {
    return this.request.method;
  }

  /** Where later messages go: the original destination, pinned to the flow of the first send. */
  get destination(): Destination {
    return this.target;
  }

  /** Retransmission timers (A, E) run only over an unreliable transport (§17.1.1.2, §17.1.2.2). */
  get reliable(): boolean {
    return isReliable(this.target.protocol);
  }

  /** Send the request and start the timers; called by the layer once it can match responses. */
  abstract start(): void;

  /** A response the layer matched to this transaction (§17.1.3). */
  abstract receiveResponse(response: SipResponse, flow: Flow): void;

  /** Put a message on the wire; a failure terminates the transaction with 'transport-error'. */
  protected transmit(message: SipMessage = this.request): void {
    attempt(() => this.context.sender.send(message, this.target)).then(
      (flow) => {
        // Later sends reuse this flow, so a retransmission does not open a second connection.
        if (!this.target.flow) this.target = { ...this.target, flow };
      },
      (error: unknown) => this.fail(error),
    );
  }
}
