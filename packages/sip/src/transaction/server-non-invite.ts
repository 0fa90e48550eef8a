import type { SipRequest, SipResponse } from '../message/index.js';
import type { Flow } from '../transport/flow.js';
import { ServerTransaction, type ServerTransactionInit } from './server-transaction.js';

type NonInviteServerTimer = 'J';

/**
 * Non-INVITE server transaction (RFC 3261 §17.2.2):
 *
 *   Trying ──1xx──▶ Proceeding ──1xx──▶ Proceeding
 *   Trying / Proceeding ──200–699──▶ Completed ──Timer J──▶ Terminated
 *
 * A retransmitted request gets the last response again; in Trying there is none to give.
 */
export class ServerNonInviteTransaction extends ServerTransaction<NonInviteServerTimer> {
  constructor(init: ServerTransactionInit) {
    super(init, 'trying');
  }

  respond(response: SipResponse): Promise<void> {
    if (this.state !== 'trying' && this.state !== 'proceeding') return this.refuse(response);
    const sent = this.transmit(response);
    if (response.status < 200) {
      this.setState('proceeding');
      return sent;
    }
    this.setState('completed');
    // Timer J keeps the final response for request retransmissions, which only UDP produces.
    this.timers.start('J', this.reliable ? 0 : 64 * this.t.T1, () => this.terminate());
    return sent;
  }

  receiveRetransmission(_request: SipRequest, flow: Flow): void {
    this.noteFlow(flow);
    if (this.state === 'proceeding' || this.state === 'completed') this.retransmitLast();
  }
}
