import { existsSync } from 'node:fs';
import { parseServerAddress, ServerAddressError, type ServerAddress } from '../transport/server-address.js';

/** Where `npm run lab` writes the CA the gateway's certificate chains to (relative to the repository root). */
export const LAB_CA_FILE = '.lab/certs/ca.pem';
export const DEFAULT_SERVER = 'tls://127.0.0.1:5061';

export const USAGE = `usage: psi-phone <command> [options]

The Zoom Phone tab as a command: registers through the lab's gateway over TLS or WSS, and
places or takes calls with real RTP audio.

commands
  status                 register once, print the status as the Phone tab shows it
                         (Registered, Idle, Pending SIP credentials, 403 Forbidden, ...), unregister
  register               register and stay registered until Ctrl-C (or --seconds N);
                         calls that come in meanwhile are refused with 486 Busy Here
  call <extension>       call, play --play, hang up after --seconds of connected time
  answer                 wait for a call, answer it, play --play and record --record;
                         done when the caller hangs up (or after --seconds)

account and gateway (every command; [environment variable] used when the flag is absent)
  --user EXT             the extension to register as                     [PSI_PHONE_USER]
  --password SECRET      its SIP password                                 [PSI_PHONE_PASSWORD]
  --ha1 HEX              or the HA1 hash alone, MD5(user:realm:password)  [PSI_PHONE_HA1]
  --server URL           tls://HOST:PORT or wss://HOST:PORT/PATH; give it again for the
                         backup gateway (default ${DEFAULT_SERVER})
                                                                          [PSI_PHONE_SERVER, comma-separated]
  --ca FILE              the CA the gateway's certificate chains to
                         (default ${LAB_CA_FILE} when that file exists)    [PSI_PHONE_CA]
  --display-name NAME    the name the people you call see
  --expires N            registration lifetime to ask for, seconds (default 600)

calls (call, answer)
  --play SOURCE          what to send: tone:HZ (e.g. tone:1000), a 16-bit PCM WAV file, or
                         silence (the default)
  --record FILE.wav      record what is heard (16-bit PCM WAV, 8 kHz mono); with answer
                         --calls K the later calls go to FILE-2.wav, FILE-3.wav, ...
  --seconds N            call: hang up after N s connected (default 10); answer: hang up after
                         N s (default: when the caller does); register: unregister after N s
  --timeout N            call: give up when not answered within N s (default 60);
                         answer: give up when no call comes within N s (default: wait)
  --dtmf DIGITS          send these digits (0-9 * # A-D, RFC 4733) once connected
  --calls K              answer: take K calls, one after the other, then exit (default 1);
                         0: take calls until Ctrl-C. A transferred call counts as the call it was

output
  --quiet                no live view: only the result and the errors
  --json                 one JSON object a line on stdout (each event, then a summary)
  --verbose              the phone's own log (pino JSON) on stderr
  --help                 this text

exit codes
  0    done: registered (status, register), or each call connected and ran its course
       (for answer, the caller hanging up is its course)
  1    not registered: stderr says why and what to do
  2    usage error: stderr names the flag and the fix
  3    the call did not connect (busy, declined, not found, no answer: with the SIP code),
       or, for answer, no call came within --timeout
  4    the call connected, but the other side hung up before --seconds
  130  interrupted by Ctrl-C, after hanging up and unregistering (register: 0)

examples, with the lab running (npm run lab)
  npx psi-phone status --user 1001 --password alice-1001
  npx psi-phone answer --user 1002 --password bob-1002 --record /tmp/heard.wav
  npx psi-phone call 1002 --user 1001 --password alice-1001 --play tone:1000 --seconds 5
`;

/** A command line that cannot be run: the message names the flag and the fix. */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

export type CommandName = 'status' | 'register' | 'call' | 'answer';

/** Who registers where: common to every command. */
export interface AccountOptions {
  user: string;
  password?: string;
  ha1?: string;
  /** Primary first, then the backups. */
  servers: ServerAddress[];
  /** The CA file's path; undefined: the system's CAs. */
  ca?: string;
  /** The CA is the lab's, taken by default (so a missing file is the lab's to create). */
  caIsLabDefault: boolean;
  displayName?: string;
  expires?: number;
}

export interface OutputOptions {
  quiet: boolean;
  json: boolean;
  verbose: boolean;
}

interface Base {
  account: AccountOptions;
  output: OutputOptions;
}

export interface StatusCommand extends Base { name: 'status' }
export interface RegisterCommand extends Base { name: 'register'; seconds?: number }
export interface CallCommand extends Base {
  name: 'call';
  extension: string;
  play?: string;
  record?: string;
  seconds: number;
  timeout: number;
  dtmf?: string;
}
export interface AnswerCommand extends Base {
  name: 'answer';
  play?: string;
  record?: string;
  seconds?: number;
  timeout?: number;
  dtmf?: string;
  /** Calls to take before exiting; 0: until Ctrl-C. */
  calls: number;
}
export type PhoneCommand = { name: 'help' } | StatusCommand | RegisterCommand | CallCommand | AnswerCommand;

export interface ParseContext {
  env?: Record<string, string | undefined>;
  /** Whether a file exists (the lab's CA default); default fs.existsSync. */
  exists?: (file: string) => boolean;
}

const ALL: readonly CommandName[] = ['status', 'register', 'call', 'answer'];
const CALLS: readonly CommandName[] = ['call', 'answer'];
/** Each flag: whether it takes a value, and the commands it means something to. */
const FLAGS: Record<string, { value: boolean; commands: readonly CommandName[] }> = {
  user: { value: true, commands: ALL }, password: { value: true, commands: ALL }, ha1: { value: true, commands: ALL },
  server: { value: true, commands: ALL }, ca: { value: true, commands: ALL },
  'display-name': { value: true, commands: ALL }, expires: { value: true, commands: ALL },
  play: { value: true, commands: CALLS }, record: { value: true, commands: CALLS }, dtmf: { value: true, commands: CALLS },
  seconds: { value: true, commands: ['register', 'call', 'answer'] }, timeout: { value: true, commands: CALLS },
  calls: { value: true, commands: ['answer'] },
  quiet: { value: false, commands: ALL }, json: { value: false, commands: ALL }, verbose: { value: false, commands: ALL },
};

/** Turn `psi-phone`'s arguments (and PSI_PHONE_* variables) into a command, or say what is wrong. */
export function parsePhoneArgs(argv: readonly string[], context: ParseContext = {}): PhoneCommand {
  const env = context.env ?? {};
  const exists = context.exists ?? existsSync;
  const values = new Map<string, string>();
  const servers: string[] = [];
  const switches = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h' || arg === 'help') return { name: 'help' };
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = (eq > 0 ? arg.slice(0, eq) : arg).replace(/^--?/, '');
    const spec = FLAGS[flag];
    if (!spec || !arg.startsWith('--')) throw new CliUsageError(`unknown option "${arg}": see psi-phone --help for the options`);
    if (!spec.value) {
      if (eq > 0) throw new CliUsageError(`--${flag} takes no value (write just --${flag})`);
      switches.add(flag);
      continue;
    }
    let value: string | undefined;
    if (eq > 0) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) value = argv[++i];
    if (value === undefined || value === '') throw new CliUsageError(`--${flag} needs a value, e.g. ${example(flag)}`);
    if (flag === 'server') servers.push(value);
    else if (values.has(flag)) throw new CliUsageError(`--${flag} is given twice: keep one`);
    else values.set(flag, value);
  }

  const [name, ...rest] = positional;
  if (!name) throw new CliUsageError('which command? status, register, call <extension> or answer (psi-phone --help)');
  if (!(ALL as readonly string[]).includes(name)) throw new CliUsageError(`unknown command "${name}": use status, register, call <extension> or answer`);
  const command = name as CommandName;
  for (const flag of [...values.keys(), ...switches, ...(servers.length ? ['server'] : [])]) {
    if (!FLAGS[flag].commands.includes(command)) throw new CliUsageError(`--${flag} means nothing to ${command}: it is for ${FLAGS[flag].commands.join(' and ')}`);
  }
  let extension: string | undefined;
  if (command === 'call') {
    extension = rest.shift();
    if (!extension) throw new CliUsageError('call: which extension? e.g. psi-phone call 1002 --play tone:1000');
    if (!/^[A-Za-z0-9_.+*#-]+$/.test(extension)) throw new CliUsageError(`call: "${extension}" is not an extension: give the number alone, e.g. 1002`);
  }
  if (rest.length > 0) throw new CliUsageError(`unexpected argument "${rest[0]}" after ${command}${extension ? ` ${extension}` : ''}`);

  const base: Base = { account: account(values, servers, env, exists), output: { quiet: switches.has('quiet'), json: switches.has('json'), verbose: switches.has('verbose') } };
  const seconds = positiveNumber(values, 'seconds');
  const timeout = positiveNumber(values, 'timeout');
  const dtmf = values.get('dtmf');
  if (dtmf !== undefined && !/^[0-9A-D#*]+$/i.test(dtmf)) throw new CliUsageError(`--dtmf "${dtmf}": only the digits 0-9, *, # and A-D can be sent`);
  const media = { play: values.get('play'), record: values.get('record'), dtmf };
  switch (command) {
    case 'status':
      return { name: 'status', ...base };
    case 'register':
      return { name: 'register', ...base, seconds };
    case 'call':
      return { name: 'call', ...base, extension: extension!, ...media, seconds: seconds ?? 10, timeout: timeout ?? 60 };
    case 'answer':
      return { name: 'answer', ...base, ...media, seconds, timeout, calls: values.get('calls') === '0' ? 0 : positiveInteger(values, 'calls') ?? 1 };
  }
}

function account(values: Map<string, string>, servers: string[], env: Record<string, string | undefined>, exists: (f: string) => boolean): AccountOptions {
  const user = values.get('user') ?? env.PSI_PHONE_USER;
  if (!user) throw new CliUsageError('--user is missing: the extension to register as, e.g. --user 1001 (or set PSI_PHONE_USER)');
  let password = values.get('password');
  let ha1 = values.get('ha1');
  if (password !== undefined && ha1 !== undefined) throw new CliUsageError('--password and --ha1 together: give one of them (the HA1 hash stands in for the password)');
  if (password === undefined && ha1 === undefined) {
    password = env.PSI_PHONE_PASSWORD || undefined;
    ha1 = env.PSI_PHONE_HA1 || undefined;
    if (password && ha1) throw new CliUsageError('PSI_PHONE_PASSWORD and PSI_PHONE_HA1 are both set: unset one, or give --password or --ha1');
  }
  if (ha1 !== undefined && !/^[0-9a-f]{32}$/i.test(ha1)) throw new CliUsageError('--ha1 must be 32 hex digits: MD5 of user:realm:password (realm psi-lab in the lab)');

  const serverTexts = servers.length > 0 ? servers : (env.PSI_PHONE_SERVER ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const addresses = (serverTexts.length > 0 ? serverTexts : [DEFAULT_SERVER]).map((text) => {
    try {
      return parseServerAddress(text);
    } catch (e) {
      if (e instanceof ServerAddressError) throw new CliUsageError(`--server ${e.message}`);
      throw e;
    }
  });

  let ca = values.get('ca') ?? (env.PSI_PHONE_CA || undefined);
  const caIsLabDefault = ca === undefined && exists(LAB_CA_FILE);
  if (caIsLabDefault) ca = LAB_CA_FILE;
  const expires = positiveInteger(values, 'expires');
  return { user, password, ha1, servers: addresses, ca, caIsLabDefault, displayName: values.get('display-name'), expires };
}

function positiveNumber(values: Map<string, string>, flag: string): number | undefined {
  const text = values.get(flag);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0)) throw new CliUsageError(`--${flag} "${text}" is not a positive number of seconds, e.g. ${example(flag)}`);
  return n;
}

function positiveInteger(values: Map<string, string>, flag: string): number | undefined {
  const text = values.get(flag);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new CliUsageError(`--${flag} "${text}" is not a whole number above 0, e.g. ${example(flag)}`);
  return Number(text);
}

function example(flag: string): string {
  const examples: Record<string, string> = {
    user: '--user 1001', password: '--password alice-1001', ha1: '--ha1 <32 hex digits>', server: `--server ${DEFAULT_SERVER}`,
    ca: `--ca ${LAB_CA_FILE}`, 'display-name': '--display-name "Alice Martin"', expires: '--expires 600', play: '--play tone:1000',
    record: '--record heard.wav', dtmf: '--dtmf 1234#', seconds: '--seconds 10', timeout: '--timeout 30', calls: '--calls 2',
  };
  return examples[flag] ?? `--${flag} VALUE`;
}
