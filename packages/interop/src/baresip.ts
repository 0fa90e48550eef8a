import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_LIMIT_MS, freePort, within } from '@psi-lab/testkit';

/**
 * Debian's baresip 1.0 as a real set: its own config folder, driven through its ctrl_tcp module
 * (netstring-framed JSON commands and events, the interface baresip documents for scripting).
 * Audio without a sound card: a sine tone from `ausine` as the microphone, ALSA's `null` device
 * as the speaker, and the `sndfile` filter writing what was heard (decoded, 8 kHz) and sent to
 * `dump-<time>-dec.wav` / `-enc.wav` in the config folder, one pair per call.
 */

export type BaresipTransport = 'udp' | 'tcp' | 'tls';

export interface BaresipOptions {
  /** The user and password baresip registers with (the lab's demo users). */
  user: string;
  password: string;
  transport: BaresipTransport;
  /** Where the gateway takes sets: its host (5060 for UDP/TCP, 5061 for TLS). */
  gateway: string;
  /** The loopback address baresip's SIP listens on. */
  address: string;
  /**
   * Where its RTP is bound and what its SDP names (`-n`). Default `address`: one host for
   * signalling and media, as a set on one network has. Another address makes it multi-homed.
   */
  mediaAddress?: string;
  /** The CA file TLS trusts (the lab's ca.pem). */
  caFile: string;
  /** The tone its "microphone" plays, in Hz (ausine). Default 1000. */
  toneHz?: number;
  /** Extra lines for the config file. */
  config?: string[];
}

/** One ctrl_tcp event: REGISTER_OK, CALL_INCOMING, CALL_ESTABLISHED, CALL_CLOSED, TRANSFER... */
export interface BaresipEvent {
  type: string;
  /** The call's id, for call events. */
  id?: string;
  param?: string;
  peeruri?: string;
  direction?: string;
  at: number;
}

interface Response {
  ok: boolean;
  data: string;
  token?: string;
}

export const BARESIP_MODULES = '/usr/lib/baresip/modules';

export class Baresip {
  readonly events: BaresipEvent[] = [];
  private readonly waiters: Array<() => void> = [];
  private readonly pending = new Map<string, (r: Response) => void>();
  private buffer = Buffer.alloc(0);
  private commandCounter = 0;
  private output = '';
  private exited = false;

  private constructor(readonly dir: string, private readonly child: ChildProcess, private readonly control: Socket) {
    control.on('data', (chunk: Buffer) => this.onData(chunk));
    child.stdout?.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20_000)));
    child.stderr?.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20_000)));
    child.on('exit', () => {
      this.exited = true;
      this.notify();
    });
  }

  /** Starts baresip and connects to its control port; resolves once it is registered. */
  static async start(options: BaresipOptions): Promise<Baresip> {
    const dir = mkdtempSync(join(tmpdir(), 'psi-baresip-'));
    const controlPort = await freePort(options.address);
    writeConfig(dir, options, controlPort);
    const child = spawn('baresip', ['-f', dir, '-n', options.mediaAddress ?? options.address], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const control = await within(connectWhenListening(options.address, controlPort, child), EVENT_LIMIT_MS, () => `baresip's control port (it printed: ${output.slice(-2000)})`);
      const baresip = new Baresip(dir, child, control);
      baresip.output = output;
      const state = await baresip.registrationState();
      if (state !== 'OK') {
        await baresip.stop();
        throw new Error(`baresip did not register (${state})\n${baresip.log()}`);
      }
      return baresip;
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
  }

  /** What baresip printed lately (for failure messages). */
  log(): string {
    return this.output.slice(-4000);
  }

  /** Sends a ctrl_tcp command ("dial", "accept", "hangup", "hold", "resume", "transfer"...). */
  command(command: string, params = ''): Promise<Response> {
    const token = `t${++this.commandCounter}`;
    const json = JSON.stringify({ command, params, token });
    const answer = new Promise<Response>((resolve) => this.pending.set(token, resolve));
    this.control.write(`${Buffer.byteLength(json)}:${json},`);
    return within(answer, EVENT_LIMIT_MS, `baresip's answer to "${command} ${params}"`);
  }

  /**
   * 'OK' once registered, 'ERR' once refused, polled with `reginfo`: baresip registers as it
   * starts, often before the control connection is up to hear REGISTER_OK.
   */
  async registrationState(limitMs = EVENT_LIMIT_MS): Promise<'OK' | 'ERR'> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      // eslint-disable-next-line no-control-regex
      const info = (await this.command('reginfo')).data.replace(/\x1b\[[0-9;]*m/g, '');
      const state = /\s(OK|ERR)\s/.exec(info)?.[1] as 'OK' | 'ERR' | undefined;
      if (state) return state;
      if (Date.now() > deadline) throw new Error(`baresip: no registration outcome within ${limitMs / 1000} s: ${info}\n${this.log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The first event (in order of arrival, from `fromIndex`) that `match` accepts. */
  async waitEvent(match: (e: BaresipEvent) => boolean, what: string, limitMs = EVENT_LIMIT_MS, fromIndex = 0): Promise<BaresipEvent> {
    const found = (): BaresipEvent | undefined => this.events.slice(fromIndex).find(match);
    const waiting = new Promise<BaresipEvent>((resolve, reject) => {
      const check = (): void => {
        const event = found();
        if (event) return resolve(event);
        if (this.exited) return reject(new Error(`baresip exited before ${what}\n${this.log()}`));
        this.waiters.push(check);
      };
      check();
    });
    return within(waiting, limitMs, () => `baresip: ${what} (events: ${this.events.map((e) => e.type).join(' ')})\n${this.log()}`);
  }

  /** The WAV files sndfile wrote: what baresip heard (`dec`) and sent (`enc`), oldest first. */
  recordings(kind: 'dec' | 'enc'): string[] {
    return readdirSync(this.dir).filter((f) => f.startsWith('dump-') && f.endsWith(`-${kind}.wav`)).sort().map((f) => join(this.dir, f));
  }

  /** Quits as a user would (unregistering, hanging up), killed if it has not exited within 5 s. */
  async stop(): Promise<void> {
    if (!this.exited) {
      const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      const json = JSON.stringify({ command: 'quit', params: '', token: 'quit' });
      if (!this.control.destroyed) this.control.write(`${Buffer.byteLength(json)}:${json},`);
      const killer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(killer);
    }
    this.control.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const colon = this.buffer.indexOf(':');
      if (colon < 0) return;
      const length = Number(this.buffer.subarray(0, colon).toString());
      if (this.buffer.length < colon + length + 2) return;
      const message = JSON.parse(this.buffer.subarray(colon + 1, colon + 1 + length).toString()) as Record<string, unknown>;
      this.buffer = this.buffer.subarray(colon + length + 2);
      if (message.response) {
        const token = String(message.token ?? '');
        this.pending.get(token)?.({ ok: Boolean(message.ok), data: String(message.data ?? ''), token });
        this.pending.delete(token);
      } else if (message.event) {
        this.events.push({
          type: String(message.type), id: message.id as string | undefined, param: message.param as string | undefined,
          peeruri: message.peeruri as string | undefined, direction: message.direction as string | undefined, at: Date.now(),
        });
        this.notify();
      }
    }
  }

  private notify(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

function writeConfig(dir: string, options: BaresipOptions, controlPort: number): void {
  const port = options.transport === 'tls' ? 5061 : 5060;
  const config = [
    'poll_method epoll',
    `sip_listen ${options.address}:0`,
    `sip_cafile ${options.caFile}`,
    'audio_player alsa,null',
    'audio_alert alsa,null',
    `audio_source ausine,${options.toneHz ?? 1000}`,
    // ausine makes 48 kHz stereo only.
    'ausrc_srate 48000',
    'ausrc_channels 2',
    'auplay_srate 48000',
    'auplay_channels 1',
    'rtp_stats yes',
    `module_path ${BARESIP_MODULES}`,
    ...['g711', 'alsa', 'ausine', 'sndfile'].map((m) => `module ${m}.so`),
    ...['account', 'menu', 'ctrl_tcp'].map((m) => `module_app ${m}.so`),
    `ctrl_tcp_listen ${options.address}:${controlPort}`,
    `snd_path ${dir}`,
    ...(options.config ?? []),
  ];
  writeFileSync(join(dir, 'config'), `${config.join('\n')}\n`);
  const aor = `<sip:${options.user}@${options.gateway};transport=${options.transport}>`;
  writeFileSync(join(dir, 'accounts'), `${aor};auth_pass=${options.password};outbound="sip:${options.gateway}:${port};transport=${options.transport}";regint=600\n`);
}

/** Connects to baresip's control port once baresip has opened it (it starts in a few ms to a second). */
async function connectWhenListening(host: string, port: number, child: ChildProcess): Promise<Socket> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`baresip exited (${child.exitCode}) before opening its control port`);
    const socket = await new Promise<Socket | undefined>((resolve) => {
      const s = connect(port, host);
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(undefined));
    });
    if (socket) return socket;
    await new Promise((r) => setTimeout(r, 50));
  }
}
