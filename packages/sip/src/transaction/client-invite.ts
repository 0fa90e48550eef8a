import type { SipRequest, SipResponse } from '../message/index.js';
import type { Flow } from '../transport/flow.js';
import { ClientTransaction, type ClientTransactionInit } from './client-transaction.js';
import { buildAckForFailure, buildCancel } from './requests.js';
import { TIMER_D_MS } from './types.js';

type InviteClientTimer = 'A' | 'B' | 'D' | 'M';

/**
 * INVITE client transaction (RFC 3261 §17.1.1, with RFC 6026's Accepted state):
 *
 *   Calling ──1xx──▶ Proceeding
 *   Calling / Proceeding ──2xx──▶ Accepted ──Timer M──▶ Terminated   (every 2xx passed up)
 *   Calling / Proceeding ──3xx–6xx──▶ Completed (ACK sent) ──Timer D──▶ Terminated
 *   Calling ──Timer B──▶ Terminated ('timeout')
 *
 * The ACK for a 2xx is not ours: it is a new transaction-less request the TU sends.
 */
export class ClientInviteTransaction extends ClientTransaction<InviteClientTimer> {
  private ack: SipRequest | undefined;
  private cancelRequested: Promise<ClientTransaction | undefined> | undefined;
  /** Set while a cancel() waits for the first provisional response. */
  private releaseCancel: ((send: boolean) => void) | undefined;

  constructor(init: ClientTransactionInit) {
    super(init, 'calling');
    this.on('terminated', () => this.releaseCancel?.(false));
  }

  start(): void {
    this.transmit();
    if (!this.reliable) this.startTimerA(this.t.T1);
    this.timers.start('B', 64 * this.t.T1, () => this.timeOut());
  }

  receiveResponse(response: SipResponse, flow: Flow): void {
    const status = response.status;
    switch (this.state) {
      case 'calling':
      case 'proceeding':
        this.timers.stop('A', 'B');
        if (status < 200) return this.onProvisional(response, flow);
        if (status < 300) return this.onSuccess(response, flow);
        return this.onFailure(response, flow);
      case 'accepted':
        // Forked or retransmitted 2xx: each one needs the TU's ACK (RFC 6026 §7.2).
        if (status >= 200 && status < 300) this.emit('final', response, flow);
        return;
      case 'completed':
        // The ACK was lost: acknowledge the retransmitted final response again, silently.
        if (status >= 300 && this.ack) this.transmit(this.ack);
        return;
      default:
        return;
    }
  }

  /**
   * Cancel the INVITE (RFC 3261 §9.1): the CANCEL goes out as its own non-INVITE client
   * transaction, to the same destination and flow. A CANCEL may only follow a provisional
   * response, so before one arrives this waits; it resolves undefined, sending nothing, when the
   * INVITE gets a final response or ends first. Calling it again returns the same promise.
   */
  cancel(reason?: string): Promise<ClientTransaction | undefined> {
    this.cancelRequested ??= this.requestCancel(reason);
    return this.cancelRequested;
  }

  private requestCancel(reason: string | undefined): Promise<ClientTransaction | undefined> {
    if (this.state === 'proceeding') return Promise.resolve(this.sendCancel(reason));
    if (this.state !== 'calling') return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.releaseCancel = (send) => {
        this.releaseCancel = undefined;
        resolve(send ? this.sendCancel(reason) : undefined);
      };
    });
  }

  private sendCancel(reason: string | undefined): ClientTransaction {
    return this.context.sendRequest(buildCancel(this.request, reason), this.destination);
  }

  private onProvisional(response: SipResponse, flow: Flow): void {
    this.setState('proceeding');
    this.emit('provisional', response, flow);
    this.releaseCancel?.(true);
  }

  private onSuccess(response: SipResponse, flow: Flow): void {
    this.setState('accepted');
    this.releaseCancel?.(false);
    // Timer M keeps the transaction to pass up 2xx retransmissions and forks (RFC 6026 §8.4).
    this.timers.start('M', 64 * this.t.T1, () => this.terminate());
    this.emit('final', response, flow);
  }

  private onFailure(response: SipResponse, flow: Flow): void {
    this.setState('completed');
    this.releaseCancel?.(false);
    this.ack = buildAckForFailure(this.request, response);
    this.transmit(this.ack);
    this.emit('final', response, flow);
    // Timer D absorbs final response retransmissions, which only UDP produces.
    this.timers.start('D', this.reliable ? 0 : TIMER_D_MS, () => this.terminate());
  }

  private startTimerA(interval: number): void {
    this.timers.start('A', interval, () => {
      this.transmit();
      this.startTimerA(2 * interval);
    });
  }
}
