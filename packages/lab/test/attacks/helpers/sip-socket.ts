import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { answerChallenge, parseMessage, SipResponse } from '@psi-lab/sip';
import { waitFor } from '@psi-lab/testkit';

export interface Sent {
  text: string;
  callId: string;
  cseq: number;
  fromTag: string;
}

export interface RequestSpec {
  method: string;
  /** Default `sip:<target host>:<port>` (REGISTER) or `sip:<to>@<target>` otherwise. */
  uri?: string;
  /** The user in From and To (REGISTER), or the caller in From. */
  user: string;
  /** Who a non-REGISTER is for (To). */
  to?: string;
  displayName?: string;
  userAgent?: string;
  callId?: string;
  cseq?: number;
  fromTag?: string;
  toTag?: string;
  /** `Authorization` (REGISTER) or `Proxy-Authorization` value. */
  authorization?: string;
  headers?: string[];
  body?: string;
}

/**
 * An attacker's UDP socket speaking hand-written SIP from an address of its choosing: it sends
 * exactly what it is told (no retransmission, no politeness) and keeps every answer.
 */
export class SipSocket {
  readonly answers: SipResponse[] = [];
  /** When each answer arrived (process.hrtime.bigint(), taken in the socket's own event): for timing them. */
  readonly arrivedAt: bigint[] = [];
  private sequence = 0;

  private constructor(private readonly socket: dgram.Socket, readonly target: { host: string; port: number }) {
    socket.on('message', (data) => {
      try {
        const at = process.hrtime.bigint();
        const message = parseMessage(data);
        if (message instanceof SipResponse) {
          this.answers.push(message);
          this.arrivedAt.push(at);
        }
      } catch {
        // Not SIP: nothing an attacker can use either.
      }
    });
  }

  static async open(target: { host: string; port: number }, from: string, port = 0): Promise<SipSocket> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, from, () => resolve());
    });
    return new SipSocket(socket, target);
  }

  get address(): { address: string; port: number } {
    return this.socket.address();
  }

  build(spec: RequestSpec): Sent {
    const n = ++this.sequence;
    const local = this.socket.address();
    const target = `${this.target.host}:${this.target.port}`;
    const uri = spec.uri ?? (spec.method === 'REGISTER' ? `sip:${target}` : `sip:${spec.to ?? spec.user}@${target}`);
    const callId = spec.callId ?? `${randomBytes(8).toString('hex')}@attacker`;
    const cseq = spec.cseq ?? n;
    const fromTag = spec.fromTag ?? `a${n}`;
    const display = spec.displayName ? `"${spec.displayName}" ` : '';
    const toUser = spec.method === 'REGISTER' ? spec.user : spec.to ?? spec.user;
    const authName = spec.method === 'REGISTER' ? 'Authorization' : 'Proxy-Authorization';
    const body = spec.body ?? '';
    const lines = [
      `${spec.method} ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${local.address}:${local.port};branch=z9hG4bK-${randomBytes(6).toString('hex')};rport`,
      'Max-Forwards: 70',
      `From: ${display}<sip:${spec.user}@${this.target.host}>;tag=${fromTag}`,
      `To: <sip:${toUser}@${this.target.host}>${spec.toTag ? `;tag=${spec.toTag}` : ''}`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} ${spec.method}`,
      `Contact: <sip:${spec.user}@${local.address}:${local.port}>`,
      ...(spec.userAgent ? [`User-Agent: ${spec.userAgent}`] : []),
      ...(spec.authorization ? [`${authName}: ${spec.authorization}`] : []),
      ...(spec.headers ?? []),
      ...(body ? ['Content-Type: application/sdp'] : []),
      `Content-Length: ${Buffer.byteLength(body)}`, '', body,
    ];
    return { text: lines.join('\r\n'), callId, cseq, fromTag };
  }

  send(text: string): void {
    this.socket.send(Buffer.from(text, 'utf8'), this.target.port, this.target.host);
  }

  /** Sends and waits for the final answer to this Call-ID and CSeq (provisional ones are skipped). */
  async ask(sent: Sent, limitMs = 10_000): Promise<SipResponse> {
    return (await this.timed(sent, limitMs)).response;
  }

  /** Like ask, with how long the answer took: from the send to its arrival on the socket, in ms. */
  async timed(sent: Sent, limitMs = 10_000): Promise<{ response: SipResponse; ms: number }> {
    const before = this.answers.length;
    const started = process.hrtime.bigint();
    this.send(sent.text);
    const mine = (r: SipResponse): boolean => r.callId === sent.callId && r.cseq.seq === sent.cseq && r.status >= 200;
    await waitFor(() => this.answers.slice(before).some(mine), limitMs, `an answer to ${sent.text.split(' ')[0]} ${sent.callId}`);
    const index = this.answers.findIndex((r, i) => i >= before && mine(r));
    return { response: this.answers[index], ms: Number(this.arrivedAt[index] - started) / 1e6 };
  }

  /**
   * One digest round: the request, its challenge, the request again with an answer computed
   * for `password` (as `answer` may change it). Returns the final answer and what was sent.
   */
  async withDigest(spec: RequestSpec, password: string, answer: (header: string) => string = (h) => h): Promise<{ response: SipResponse; authorization: string; sent: Sent }> {
    const first = this.build(spec);
    const challenge = await this.ask(first);
    const name = challenge.status === 407 ? 'proxy-authenticate' : 'www-authenticate';
    const value = challenge.get(name);
    if (!value) throw new Error(`expected a challenge, got ${challenge.status} ${challenge.reason}`);
    const uri = first.text.split(' ')[1];
    const authorization = answer(answerChallenge({ challenge: value, method: spec.method, uri, username: spec.user, password }));
    const sent = this.build({ ...spec, callId: first.callId, cseq: first.cseq + 1, fromTag: first.fromTag, authorization });
    return { response: await this.ask(sent), authorization, sent };
  }

  close(): void {
    this.socket.close();
  }
}
