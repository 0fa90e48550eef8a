import { parseMessage, SipRequest, SipResponse, createResponse, newBranch, type SipMessage } from '../../src/message/index.js';
import {
  ClientInviteTransaction, ClientTransaction, ServerInviteTransaction, TransactionLayer,
  TypedEmitter, type MessageSender, type ServerTransaction, type TimerValues, type TransactionEvents,
} from '../../src/transaction/index.js';
import type { Destination, Flow, TransportProtocol } from '../../src/transport/flow.js';
import { FakeClock } from './fake-clock.js';

export interface SentMessage {
  message: SipMessage;
  /** Fake-clock time of the send. */
  at: number;
  destination?: Destination;
  requestFlow?: Flow;
}

/** A MessageSender that records every send; set `failing` to make sends reject. */
export class FakeSender implements MessageSender {
  readonly sent: SentMessage[] = [];
  failing = false;

  constructor(private readonly clock: FakeClock) {}

  send(message: SipMessage, destination: Destination): Promise<Flow> {
    this.sent.push({ message, at: this.clock.now(), destination });
    if (this.failing) return Promise.reject(new Error('connection refused'));
    return Promise.resolve(destination.flow ?? flowFor(destination.protocol, destination.address, destination.port));
  }

  sendResponse(response: SipResponse, requestFlow: Flow): Promise<Flow | void> {
    this.sent.push({ message: response, at: this.clock.now(), requestFlow });
    if (this.failing) return Promise.reject(new Error('connection reset'));
    return Promise.resolve(requestFlow);
  }

  requests(method?: string): SentMessage[] {
    return this.sent.filter((s) => s.message instanceof SipRequest && (method === undefined || s.message.method === method));
  }

  responses(status?: number): SentMessage[] {
    return this.sent.filter((s) => s.message instanceof SipResponse && (status === undefined || s.message.status === status));
  }

  /** Send instants of the requests (or responses) selected. */
  static times(sent: SentMessage[]): number[] {
    return sent.map((s) => s.at);
  }

  clear(): void {
    this.sent.length = 0;
  }
}

let flowCounter = 0;

export function flowFor(protocol: TransportProtocol, address = '192.0.2.10', port = 5060): Flow {
  return { id: `${protocol}:${address}:${port}#${++flowCounter}`, protocol, local: { address: '192.0.2.1', port: 5060 }, remote: { address, port } };
}

export const udpFlow = (): Flow => flowFor('udp');
export const tcpFlow = (): Flow => flowFor('tcp');

export function destination(protocol: TransportProtocol = 'udp'): Destination {
  return { protocol, address: '192.0.2.10', port: 5060 };
}

export interface RequestFields {
  method?: string;
  uri?: string;
  /** The whole top Via value, or just a branch (undefined: a fresh RFC 3261 branch; null: none). */
  via?: string;
  branch?: string | null;
  sentBy?: string;
  transport?: string;
  from?: string;
  to?: string;
  callId?: string;
  cseq?: number;
  cseqMethod?: string;
  extra?: string[];
}

/** A request as a parser would hand it over, with sensible defaults for everything. */
export function request(fields: RequestFields = {}): SipRequest {
  const method = fields.method ?? 'INVITE';
  const branch = fields.branch === undefined ? newBranch() : fields.branch;
  const via = fields.via ?? `SIP/2.0/${fields.transport ?? 'UDP'} ${fields.sentBy ?? 'client.example.com:5060'}${branch === null ? '' : `;branch=${branch}`}`;
  const lines = [
    `${method} ${fields.uri ?? 'sip:bob@example.com'} SIP/2.0`,
    `Via: ${via}`,
    'Max-Forwards: 70',
    `From: ${fields.from ?? '<sip:alice@example.com>;tag=from-1'}`,
    `To: ${fields.to ?? '<sip:bob@example.com>'}`,
    `Call-ID: ${fields.callId ?? 'call-1@client.example.com'}`,
    `CSeq: ${fields.cseq ?? 1} ${fields.cseqMethod ?? method}`,
    ...(fields.extra ?? []),
    'Content-Length: 0',
    '',
    '',
  ];
  return parseMessage(Buffer.from(lines.join('\r\n'))) as SipRequest;
}

/** The same request as freshly received bytes: how a retransmission arrives. */
export function reparse(message: SipRequest): SipRequest {
  return parseMessage(Buffer.from(message.toString())) as SipRequest;
}

/** A response to `req` as the far end would send it (parsed from bytes). */
export function responseTo(req: SipRequest, status: number, toTag = 'to-1'): SipResponse {
  const built = createResponse(req, status, { toTag });
  return parseMessage(Buffer.from(built.toString())) as SipResponse;
}

/** Let promise callbacks (send results, rejections) run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A layer over a fake clock and a recording sender. */
export function setupLayer(timers?: Partial<TimerValues>): { clock: FakeClock; sender: FakeSender; layer: TransactionLayer } {
  const clock = new FakeClock();
  const sender = new FakeSender(clock);
  const layer = new TransactionLayer(sender, { clock, timers });
  return { clock, sender, layer };
}

/** Record a transaction's events in order, as strings like 'state:completed' or 'final:486'. */
export function recordEvents(tx: ClientTransaction | ServerTransaction): string[] {
  const log: string[] = [];
  // Through the shared event map: a union of the two classes has no callable `on`.
  const common: TypedEmitter<TransactionEvents> = tx;
  common.on('state', (s) => log.push(`state:${s}`));
  common.on('timeout', () => log.push('timeout'));
  common.on('transport-error', (e) => log.push(`transport-error:${e.message}`));
  common.on('terminated', () => log.push('terminated'));
  if (tx instanceof ClientTransaction) {
    tx.on('provisional', (r) => log.push(`provisional:${r.status}`));
    tx.on('final', (r) => log.push(`final:${r.status}`));
  }
  return log;
}

export function sendInvite(layer: TransactionLayer, invite: SipRequest, dest: Destination): ClientInviteTransaction {
  const tx = layer.sendRequest(invite, dest);
  if (!(tx instanceof ClientInviteTransaction)) throw new Error('expected a ClientInviteTransaction');
  return tx;
}

export function expectServerInvite(tx: ServerTransaction | undefined): ServerInviteTransaction {
  if (!(tx instanceof ServerInviteTransaction)) throw new Error('expected a new ServerInviteTransaction');
  return tx;
}
