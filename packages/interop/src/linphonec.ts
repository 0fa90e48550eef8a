/**
 * Debian's linphonec (linphone-cli 5.1) as a set on the lab, driven through its console: a
 * generated linphonerc in a temporary HOME, commands on stdin, its stdout read into awaited
 * events. Its full log (-d 6, the SIP trace with every SDP) goes to a file, read once it quit.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeWav, type DecodedWav } from '@psi-lab/media';
import { EVENT_LIMIT_MS, waitFor, within } from '@psi-lab/testkit';

export type LinphoneTransport = 'udp' | 'tcp' | 'tls';

export interface LinphonecOptions {
  user: string;
  password: string;
  transport: LinphoneTransport;
  /** Where sets reach the gateway (the lab's `host`). */
  gateway: string;
  /** The loopback address linphonec binds its SIP and RTP sockets on. */
  address: string;
  /**
   * Where its RTP is bound instead, when its signalling leaves from elsewhere: belle-sip never
   * binds a TCP or TLS client connection, so those leave from the kernel's choice of source
   * address, and the gateway takes a set's RTP only from the address its signalling comes from.
   * That address may be shared, so the RTP port is then left to the system.
   */
  rtpAddress?: string;
  /** The CA file it trusts for TLS (the lab's certs/ca.pem). */
  caFile: string;
}

/** A SIP message from the trace in linphonec's log. */
export interface TracedMessage {
  dir: 'out' | 'in';
  /** What belle-sip wrote as the other end, e.g. `UDP://127.1.2.3:5060`. */
  peer: string;
  text: string;
}

const SIP_PORT: Record<LinphoneTransport, number> = { udp: 5060, tcp: 5060, tls: 5061 };
const QUIT_LIMIT_MS = 15_000;
/**
 * linphonec prints its prompt without a newline, so what it prints next follows the prompt on
 * the same line — and some of its messages ("Performing attended transfer ...") end with no
 * newline of their own, only the next prompt: the prompt ends a line as a newline does.
 */
const PROMPT = /linphonec> /g;

/**
 * The linphonerc: only what a set on the lab needs. Everything it binds is on `address`
 * (the machine's own interface must see nothing), no ICE, STUN or uPnP (so its SDP names the
 * address it sends from), and the gateway as its proxy with the user's password.
 */
function linphonerc(o: LinphonecOptions): string {
  // belle-sip opens client connections only for a transport it also listens on; 0 disables one.
  const listen = (t: LinphoneTransport): number => (t !== o.transport ? 0 : t === 'udp' ? 5060 : -1);
  const rtpPort = (own: number): number => (o.rtpAddress === undefined ? own : -1);
  return `[sip]
bind_address=${o.address}
sip_port=${listen('udp')}
sip_tcp_port=${listen('tcp')}
sip_tls_port=${listen('tls')}
use_ipv6=0
default_proxy=0
root_ca=${o.caFile}
verify_server_certs=1
# Its TLS (mbedTLS 2.28) matches a certificate's CN and DNS names only, never an IP address
# SAN: the gateway is reached by address, so the name check is off; the chain to the CA is not.
verify_server_cn=0

[rtp]
bind_address=${o.rtpAddress ?? o.address}
audio_rtp_port=${rtpPort(7078)}
video_rtp_port=${rtpPort(9078)}
text_rtp_port=${rtpPort(11078)}

[net]
mtu=1300
nat_policy_ref=psi-lab-direct

[nat_policy_0]
ref=psi-lab-direct

[video]
display=0
capture=0

[proxy_0]
reg_proxy=<sip:${o.gateway}:${SIP_PORT[o.transport]};transport=${o.transport}>
reg_identity=sip:${o.user}@${o.gateway}
reg_expires=600
reg_sendregister=1
publish=0

[auth_info_0]
username=${o.user}
userid=${o.user}
passwd=${o.password}
realm=psi-lab
`;
}

export class Linphonec {
  /** Its console output, line by line, the prompt taken off. */
  readonly lines: string[] = [];
  readonly dir: string;
  private readonly logFile: string;
  private readonly exited: Promise<number | null>;
  private partial = '';
  private incomingTaken = 0;
  private gone = false;

  private constructor(readonly options: LinphonecOptions, private readonly child: ChildProcessWithoutNullStreams, dir: string, logFile: string) {
    this.dir = dir;
    this.logFile = logFile;
    const onData = (d: Buffer): void => {
      const text = (this.partial + d.toString()).replace(PROMPT, '\n');
      const parts = text.split('\n');
      this.partial = parts.pop() ?? '';
      for (const line of parts) if (line.trim()) this.lines.push(line.trimEnd());
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => {
      this.lines.push(`(linphonec could not be run: ${e.message})`);
      this.gone = true;
    });
    this.exited = new Promise((resolve) => child.on('close', (code) => {
      this.gone = true;
      resolve(code);
    }));
  }

  /** Starts linphonec, its audio from and to WAV files (no sound card); it registers at once. */
  static async start(options: LinphonecOptions): Promise<Linphonec> {
    const dir = mkdtempSync(join(tmpdir(), 'psi-linphonec-'));
    // Its databases go under $HOME/.local/share/linphone; without that folder the core never starts.
    mkdirSync(join(dir, '.local/share/linphone'), { recursive: true });
    const rc = join(dir, 'linphonerc');
    writeFileSync(rc, linphonerc(options));
    const logFile = join(dir, 'linphonec.log');
    const child = spawn('linphonec', ['-c', rc, '-d', '6', '-l', logFile], { cwd: dir, env: { ...process.env, HOME: dir } });
    const phone = new Linphonec(options, child, dir, logFile);
    try {
      phone.send('soundcard use files');
      await phone.line(/^Using wav files instead of soundcard\.$/, 'linphonec to use WAV files for audio');
    } catch (e) {
      await phone.stop();
      throw e;
    }
    return phone;
  }

  send(command: string): void {
    this.child.stdin.write(`${command}\n`);
  }

  /**
   * The `nth` (0-based) console line from index `from` on matching `re`; fails naming `what`,
   * with the console, when none comes within the bound or linphonec exits first.
   */
  async line(re: RegExp, what: string, from = 0, limitMs = EVENT_LIMIT_MS, nth = 0): Promise<RegExpMatchArray> {
    let found: RegExpMatchArray | undefined;
    await waitFor(() => {
      found = this.lines.slice(from).map((l) => re.exec(l)).filter((m) => m !== null)[nth];
      return found !== undefined || this.gone;
    }, limitMs, () => `${what}; linphonec printed:\n${this.console()}`);
    if (!found) throw new Error(`linphonec ended (${this.child.exitCode ?? this.child.signalCode}) before ${what}:\n${this.console()}`);
    return found;
  }

  /** Its proxy's registration state as `states proxies` prints it (LinphoneRegistrationOk, ...Failed, ...). */
  async registrationState(): Promise<string> {
    const from = this.lines.length;
    this.send('states proxies');
    const [, state] = await this.line(/^sip:\S+\s+\| (LinphoneRegistration\w+)$/, 'its answer to "states proxies"', from);
    return state!;
  }

  /**
   * Until its registration is in `state`. linphonec prints no event of its own when a
   * registration succeeds or fails, so it is asked, a few times a second, within the bound.
   */
  async registration(state = 'LinphoneRegistrationOk', limitMs = EVENT_LIMIT_MS): Promise<void> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const now = await this.registrationState();
      if (now === state) return;
      if (Date.now() > deadline) throw new Error(`linphonec's registration is ${now}, not ${state}, after ${limitMs / 1000} s:\n${this.console()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The WAV file sent to the other side in the next call (a file, read from its start). */
  play(file: string): void {
    this.send(`play ${file}`);
  }

  /** Where the next call's audio heard from the other side goes. */
  record(file: string): void {
    this.send(`record ${file}`);
  }

  /** Dials `uri`; resolves with linphonec's id for the call. */
  async call(uri: string): Promise<number> {
    const from = this.lines.length;
    this.send(`call ${uri}`);
    const [, id] = await this.line(/^Establishing call id to .*, assigned id (\d+)$/, `linphonec to start calling ${uri}`, from);
    return Number(id);
  }

  /** The next incoming call not handed out yet: its id and who it is from. */
  async incoming(limitMs = EVENT_LIMIT_MS): Promise<{ id: number; from: string }> {
    const m = await this.line(/^Receiving new incoming call from (.*), assigned id (\d+)$/, `incoming call ${this.incomingTaken + 1}`, 0, limitMs, this.incomingTaken);
    this.incomingTaken++;
    return { id: Number(m[2]), from: m[1]! };
  }

  answer(id: number): void {
    this.send(`answer ${id}`);
  }

  terminate(id: number): void {
    this.send(`terminate ${id}`);
  }

  /** Puts call `id` on hold (a re-INVITE, sendonly): linphonec places no second call while one runs. */
  async pause(id: number, limitMs = EVENT_LIMIT_MS): Promise<void> {
    const from = this.lines.length;
    this.send(`pause ${id}`);
    await this.line(new RegExp(`^Call ${id} with .* is now paused\\.$`), `call ${id} to be paused`, from, limitMs);
  }

  /** Takes call `id` off hold (a re-INVITE, sendrecv again). */
  async resume(id: number, limitMs = EVENT_LIMIT_MS): Promise<void> {
    const from = this.lines.length;
    this.send(`resume ${id}`);
    await this.line(new RegExp(`^Resuming call ${id} with `), `call ${id} to be resumed`, from, limitMs);
  }

  /** Blind transfer (REFER) of the other party of call `id` to `uri`. */
  transfer(id: number, uri: string): void {
    this.send(`transfer ${id} ${uri}`);
  }

  /** Attended transfer: REFERs the other party of call `id` to the party of call `toId`, with Replaces for that call. */
  async transferToCall(id: number, toId: number): Promise<void> {
    const from = this.lines.length;
    this.send(`transfer ${id} --to-call ${toId}`);
    await this.line(new RegExp(`^Performing attended transfer of call ${id} to call ${toId}$`), `linphonec to start transferring call ${id} to call ${toId}`, from);
  }

  /**
   * Until a NOTIFY told linphonec that the party of call `id` it transferred reached the target
   * (a sipfrag of 2xx); it then ends that call itself. Fails at once if the call ends first.
   */
  async transferred(id: number, limitMs = EVENT_LIMIT_MS): Promise<void> {
    const m = await this.line(new RegExp(`^(The distant endpoint .* of call ${id} has been transfered, you can safely close the call\\.|Call ${id} with .* (ended \\(.*\\)|error)\\.)$`),
      `the transfer of call ${id} to succeed`, 0, limitMs);
    if (!m[0].startsWith('The distant endpoint')) throw new Error(`call ${id} ended before its transfer succeeded: ${m[0]}\n${this.console()}`);
  }

  /**
   * A call linphonec placed by itself, following a REFER (it holds the referring call first):
   * the first call to a URI starting with `to` (e.g. `sip:1003@host`), its id and the URI it
   * dialled, with `?Replaces=...` for an attended transfer.
   */
  async placed(to: string, limitMs = EVENT_LIMIT_MS): Promise<{ id: number; uri: string }> {
    const escaped = to.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const [, uri, id] = await this.line(new RegExp(`^Establishing call id to <?(${escaped}[^>]*)>?, assigned id (\\d+)$`), `linphonec to call ${to}`, 0, limitMs);
    return { id: Number(id), uri: uri! };
  }

  /**
   * Its calls as `calls` lists them: id, the other party's URI, linphone's state
   * (StreamsRunning, Paused, ...). A `help calls` after it fences the answer: its one line
   * comes once the table has been printed in full.
   */
  async calls(): Promise<Array<{ id: number; uri: string; state: string }>> {
    const from = this.lines.length;
    this.send('calls');
    this.send('help calls');
    await this.line(/^Show all the current calls with their id and status\.$/, 'its answer to "calls"', from);
    const upTo = this.lines.findIndex((l, i) => i >= from && l.startsWith('Show all the current calls'));
    return this.lines.slice(from, upTo).map((l) => /^(\d+)\s+\| (\S+)\s+\| (\w+)/.exec(l)).filter((m) => m !== null)
      .map((m) => ({ id: Number(m[1]), uri: m[2]!, state: m[3]! }));
  }

  /** Until call `id` has its media running; fails at once if it ends or errs first. */
  async connected(id: number, limitMs = EVENT_LIMIT_MS): Promise<void> {
    const m = await this.line(new RegExp(`^(Media streams established with .* for call ${id} \\(audio\\)\\.|Call ${id} with .* (ended \\(.*\\)|error)\\.)$`),
      `call ${id} to have its media running`, 0, limitMs);
    if (!m[0].startsWith('Media streams')) throw new Error(`call ${id} did not connect: ${m[0]}\n${this.console()}`);
  }

  /** Until call `id` ended; the reason linphone gives (`No error` for a plain hang-up). */
  async ended(id: number, limitMs = EVENT_LIMIT_MS): Promise<string> {
    const [, reason] = await this.line(new RegExp(`^Call ${id} with .* ended \\((.*)\\)\\.$`), `call ${id} to end`, 0, limitMs);
    return reason!;
  }

  /** Until `file` holds `seconds` of 8 kHz 16-bit audio (linphone writes its recording as it goes). */
  async recorded(file: string, seconds: number, limitMs = EVENT_LIMIT_MS): Promise<void> {
    const size = (): number => { try { return statSync(file).size; } catch { return 0; } };
    await waitFor(() => size() >= 44 + seconds * 16_000, limitMs, () => `${seconds} s of audio in ${file} (${size()} bytes)`);
  }

  /** Quits as a user does (hanging up, unregistering); killed if it has not exited within 15 s. */
  async stop(): Promise<number | null> {
    if (this.gone) return this.child.exitCode;
    this.send('quit');
    return within(this.exited, QUIT_LIMIT_MS, 'linphonec to quit').catch(() => {
      this.child.kill('SIGKILL');
      return this.exited;
    });
  }

  /** Its log file (complete once it has quit: it is written through a buffer). */
  log(): string {
    return readFileSync(this.logFile, 'latin1');
  }

  /**
   * The SIP messages it sent and received, from its log (over TCP and TLS, what one read gave:
   * enough for the messages a test looks at).
   */
  trace(): TracedMessage[] {
    const log = this.log();
    const messages: TracedMessage[] = [];
    // Each log entry starts with a timestamp; a SIP message follows its "sent to"/"from" line.
    for (const entry of log.split(/\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3} )/)) {
      const head = /^.*?(?:message sent to \[([^\]]+)\]|received \[\d+\] new bytes from \[([^\]]+)\]).*\n/.exec(entry);
      if (!head) continue;
      messages.push({ dir: head[1] ? 'out' : 'in', peer: (head[1] ?? head[2])!, text: entry.slice(head[0].length).trim() });
    }
    return messages;
  }

  /** Its console so far, for failure messages. */
  console(): string {
    return this.lines.slice(-40).join('\n');
  }

  /** Removes its temporary HOME (config, databases, log); recordings the test put elsewhere stay. */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A recording linphonec made. Its WAV writer (mediastreamer2's) puts the file's whole length in
 * the data chunk's size, 44 bytes more than follow; a strict reader refuses that, so the size is
 * set to what the file holds.
 */
export function readLinphoneRecording(file: string): DecodedWav {
  const wav = readFileSync(file);
  const dataAt = wav.indexOf('data', 12, 'latin1');
  if (dataAt < 0) throw new Error(`${file}: no data chunk`);
  const held = wav.length - (dataAt + 8);
  if (wav.readUInt32LE(dataAt + 4) > held) wav.writeUInt32LE(held - (held % 2), dataAt + 4);
  return decodeWav(wav);
}
