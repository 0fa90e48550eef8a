import { EmitterImpl, TransportState, type Emitter, type Transport } from 'sip.js';
import { putMd5ChallengeLast } from './challenge-order.js';
import { SipConnection, type ConnectOptions } from './connection.js';
import { formatServerAddress, type ServerAddress } from './server-address.js';

export interface FailoverTransportOptions extends ConnectOptions {
  /** Primary first, then the backups (the PSI client learns an SBC and a backup SBC). */
  servers: ServerAddress[];
  /** While on a backup, how often the primary is tried again (ms, default 30 000). */
  failbackIntervalMs?: number;
  /** Told which server the transport is connected to now. */
  onServer?: (server: ServerAddress) => void;
  /** A backup is in use and the primary answers again: the owner reconnects to it. */
  onPrimaryBack?: () => void;
  log?: (message: string) => void;
}

/**
 * sip.js's Transport for Node, over TLS or WSS (RFC 7118), with failover: `connect()` tries the
 * primary, then each backup in turn; while on a backup it keeps probing the primary and says so
 * when the primary is back, so the phone can return to it.
 */
export class FailoverTransport implements Transport {
  onConnect: (() => void) | undefined;
  onDisconnect: ((error?: Error) => void) | undefined;
  onMessage: ((message: string) => void) | undefined;
  private readonly stateEmitter = new EmitterImpl<TransportState>();
  private currentState = TransportState.Disconnected;
  private connection: SipConnection | undefined;
  private active: ServerAddress;
  private probe: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;
  private disposed = false;

  constructor(_logger: unknown, private readonly options: FailoverTransportOptions) {
    if (options.servers.length === 0) throw new Error('FailoverTransport: give at least one server');
    this.active = options.servers[0];
  }

  /** Via's transport (sip.js reads it for each request). */
  get protocol(): string {
    return this.active.protocol.toUpperCase();
  }

  get server(): ServerAddress {
    return this.active;
  }

  /** Our address toward the gateway (for SDP), while connected. */
  get localAddress(): string {
    return this.connection?.localAddress ?? '127.0.0.1';
  }

  get state(): TransportState {
    return this.currentState;
  }

  get stateChange(): Emitter<TransportState> {
    return this.stateEmitter;
  }

  isConnected(): boolean {
    return this.currentState === TransportState.Connected;
  }

  connect(): Promise<void> {
    if (this.isConnected()) return Promise.resolve();
    this.connecting ??= this.connectInOrder().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  async disconnect(): Promise<void> {
    this.stopProbe();
    const conn = this.connection;
    if (!conn) return;
    this.setState(TransportState.Disconnecting);
    this.connection = undefined;
    conn.removeAllListeners('close');
    conn.close();
    this.setState(TransportState.Disconnected);
    this.onDisconnect?.();
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await this.disconnect();
    this.stateEmitter.removeAllListeners();
  }

  async send(message: string): Promise<void> {
    if (!this.connection || this.connection.isClosed) throw new Error(`not connected to ${formatServerAddress(this.active)}`);
    this.connection.send(message);
  }

  private async connectInOrder(): Promise<void> {
    this.setState(TransportState.Connecting);
    const errors: string[] = [];
    for (const server of this.options.servers) {
      if (this.disposed) break;
      try {
        const conn = await SipConnection.open(server, this.options);
        if (this.disposed) {
          // Closed while it was connecting: the phone is gone, so is this connection.
          conn.close();
          break;
        }
        this.adopt(conn, server);
        return;
      } catch (e) {
        errors.push(`${formatServerAddress(server)}: ${(e as Error).message}`);
        this.options.log?.(`cannot connect to ${formatServerAddress(server)}: ${(e as Error).message}`);
      }
    }
    this.setState(TransportState.Disconnected);
    throw new Error(`no gateway answered (${errors.join('; ')})`);
  }

  private adopt(conn: SipConnection, server: ServerAddress): void {
    this.connection = conn;
    this.active = server;
    conn.on('message', (text) => this.onMessage?.(putMd5ChallengeLast(text)));
    conn.on('close', (error) => {
      if (this.connection !== conn) return;
      this.connection = undefined;
      this.stopProbe();
      this.setState(TransportState.Disconnected);
      this.onDisconnect?.(error ?? new Error(`connection to ${formatServerAddress(server)} closed`));
    });
    this.setState(TransportState.Connected);
    this.options.onServer?.(server);
    this.onConnect?.();
    if (server !== this.options.servers[0]) this.startProbe();
  }

  /** The owner cannot move now (calls in progress): keep probing and ask again later. */
  probeAgainLater(): void {
    if (this.isConnected() && this.active !== this.options.servers[0]) this.startProbe();
  }

  /** On a backup: try the primary now and then; when it answers, tell the owner. */
  private startProbe(): void {
    this.stopProbe();
    this.probe = setInterval(() => {
      void SipConnection.open(this.options.servers[0], { ...this.options, keepaliveMs: 0, timeoutMs: 5000 }).then((conn) => {
        conn.close();
        if (this.active === this.options.servers[0] || !this.isConnected()) return;
        this.stopProbe();
        this.options.log?.(`primary ${formatServerAddress(this.options.servers[0])} answers again`);
        this.options.onPrimaryBack?.();
      }, () => undefined);
    }, this.options.failbackIntervalMs ?? 30_000);
    this.probe.unref();
  }

  private stopProbe(): void {
    clearInterval(this.probe);
    this.probe = undefined;
  }

  private setState(state: TransportState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.stateEmitter.emit(state);
  }
}
