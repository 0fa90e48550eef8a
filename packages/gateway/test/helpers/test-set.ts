import dgram from 'node:dgram';
import { EVENT_LIMIT_MS, waitFor as waitForEvent } from '@psi-lab/testkit';
import { SipApp, type IncomingRequest, type OutgoingResponse, type RequestOptions, type RequestResult, type TransportProtocol } from '@psi-lab/sip';

export interface SetOptions {
  user: string;
  password: string;
  protocol: TransportProtocol;
  host: string;
  port: number;
  ca?: string;
  path?: string;
  /**
   * The address the set's own sockets bind: its UDP listener, its RTP socket and (through the
   * UDP listener, which the SIP stack connects from) its TCP connections. A test that blocks or
   * counts a source gives each set its own. Default 127.0.0.1; UDP and TCP sets only: the SIP
   * stack binds TLS and WebSocket connections to no chosen address.
   */
  localAddress?: string;
}

/**
 * A remote set for tests: a SIP element that registers through the gateway over one transport,
 * answers what it is told to, and has an RTP socket whose traffic the test can watch.
 */
export class TestSet {
  readonly app: SipApp;
  readonly invites: IncomingRequest[] = [];
  readonly requests: IncomingRequest[] = [];
  rtp!: dgram.Socket;
  readonly received: Buffer[] = [];
  onInvite: (req: IncomingRequest, res: OutgoingResponse) => void = (_req, res) => void res.send(486);
  readonly localAddress: string;

  constructor(readonly options: SetOptions) {
    if (options.localAddress !== undefined && options.protocol !== 'udp' && options.protocol !== 'tcp') {
      throw new Error(`TestSet: localAddress is for UDP and TCP sets, not ${options.protocol} (its connections leave from 127.0.0.1)`);
    }
    this.localAddress = options.localAddress ?? '127.0.0.1';
    // RFC 3261's timers: a short T1 would retransmit over UDP on a loaded machine, and every
    // retransmission counts toward the gateway's flood limit.
    this.app = new SipApp({ tlsClient: options.ca ? { ca: options.ca } : undefined });
    this.app.invite((req, res) => {
      this.invites.push(req);
      this.onInvite(req, res);
    });
    for (const m of ['BYE', 'INFO', 'MESSAGE', 'NOTIFY', 'UPDATE', 'REFER', 'PRACK']) {
      this.app.method(m, (req, res) => {
        this.requests.push(req);
        void res.send(200);
      });
    }
  }

  async start(): Promise<this> {
    // Over TCP the UDP listener only names the address connections leave from.
    const { protocol } = this.options;
    if (protocol === 'udp' || protocol === 'tcp') await this.app.listen({ protocol: 'udp', host: this.localAddress, port: 0 });
    this.rtp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => this.rtp.bind(0, this.localAddress, resolve));
    this.rtp.on('message', (m) => this.received.push(m));
    return this;
  }

  get destination(): RequestOptions['destination'] {
    return { protocol: this.options.protocol, address: this.options.host, port: this.options.port, path: this.options.path };
  }

  get domain(): string {
    return this.options.host;
  }

  /** Over UDP where the set listens; over a connection an unroutable host, as browser phones do (RFC 7118). */
  get contact(): string {
    if (this.options.protocol === 'udp') return `<sip:${this.options.user}@${this.localAddress}:${this.app.transport.sentBy('udp').port}>`;
    return `<sip:${this.options.user}@${this.options.user}-set.invalid;transport=${this.options.protocol}>`;
  }

  sdp(): string {
    const port = (this.rtp.address()).port;
    const address = this.localAddress;
    return `v=0\r\no=- 1 1 IN IP4 ${address}\r\ns=-\r\nc=IN IP4 ${address}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;
  }

  register(expires = 600, password = this.options.password): Promise<RequestResult> {
    return this.app.request({
      method: 'REGISTER', uri: `sip:${this.domain}`, destination: this.destination,
      from: `<sip:${this.options.user}@${this.domain}>`, to: `<sip:${this.options.user}@${this.domain}>`,
      headers: [['Contact', this.contact], ['Expires', expires]],
      auth: { username: this.options.user, password },
    });
  }

  call(extension: string, extra: Partial<RequestOptions> = {}): Promise<RequestResult> {
    return this.app.request({
      method: 'INVITE', uri: `sip:${extension}@${this.domain}`, destination: this.destination,
      from: `"Test ${this.options.user}" <sip:${this.options.user}@${this.domain}>`, to: `<sip:${extension}@${this.domain}>`,
      headers: [['Contact', this.contact]], body: this.sdp(),
      auth: { username: this.options.user, password: this.options.password }, ...extra,
    });
  }

  /** Send RTP-ish packets to the address and port an SDP names. */
  sendRtp(sdp: string, payload: string, count = 5): void {
    const port = Number(/m=audio (\d+)/.exec(sdp)?.[1]);
    const address = /c=IN IP4 (\S+)/.exec(sdp)?.[1] ?? this.localAddress;
    for (let i = 0; i < count; i++) {
      const header = Buffer.from([0x80, 0x00, 0, i, 0, 0, 0, i, 0, 0, 0, 1]);
      this.rtp.send(Buffer.concat([header, Buffer.from(payload)]), port, address);
    }
  }

  heard(payload: string): boolean {
    return this.received.some((b) => b.subarray(12).toString() === payload);
  }

  async close(): Promise<void> {
    this.rtp?.close();
    await this.app.close();
  }
}

/** testkit's bounded wait, with this folder's defaults (the gateway tests name what they wait for last). */
export function waitFor(condition: () => boolean, timeoutMs = EVENT_LIMIT_MS, what = 'condition'): Promise<void> {
  return waitForEvent(condition, timeoutMs, what);
}
