import { describe, expect, it } from 'vitest';
import { CliUsageError, LAB_CA_FILE, parsePhoneArgs, USAGE, type ParseContext } from '../src/cli/args.js';
import { EXIT, formatDuration, outgoingCallExitCode, registrationHint } from '../src/cli/outcome.js';
import { runPhoneCli } from '../src/cli/psi-phone.js';
import { recordingFileFor } from '../src/cli/recording.js';

const noLab: ParseContext = { env: {}, exists: () => false };
const parse = (argv: string[], context: ParseContext = noLab) => parsePhoneArgs(argv, context);
const account = ['--user', '1001', '--password', 'alice-1001'];

function usageError(argv: string[], context: ParseContext = noLab): string {
  try {
    parse(argv, context);
  } catch (e) {
    expect(e).toBeInstanceOf(CliUsageError);
    return (e as Error).message;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
}

describe('psi-phone arguments', () => {
  it('parses a call with every flag', () => {
    const cmd = parse(['call', '1002', ...account, '--server', 'tls://gw1:5061', '--server=wss://gw2:8443/sip', '--ca', 'ca.pem',
      '--play', 'tone:1000', '--record', 'out.wav', '--seconds', '2.5', '--timeout', '30', '--dtmf', '12#', '--display-name', 'Alice', '--expires', '300', '--json']);
    expect(cmd).toEqual({
      name: 'call', extension: '1002', play: 'tone:1000', record: 'out.wav', seconds: 2.5, timeout: 30, dtmf: '12#',
      account: {
        user: '1001', password: 'alice-1001', ha1: undefined, ca: 'ca.pem', caIsLabDefault: false, displayName: 'Alice', expires: 300,
        servers: [{ protocol: 'tls', host: 'gw1', port: 5061 }, { protocol: 'wss', host: 'gw2', port: 8443, path: '/sip' }],
      },
      output: { quiet: false, json: true, verbose: false },
    });
  });

  it('has lab-friendly defaults: the local gateway, call 10 s with 60 s to answer, answer one call', () => {
    const call = parse(['call', '1002', ...account]);
    expect(call).toMatchObject({ seconds: 10, timeout: 60, account: { servers: [{ protocol: 'tls', host: '127.0.0.1', port: 5061 }], ca: undefined } });
    expect(parse(['answer', ...account])).toMatchObject({ calls: 1, seconds: undefined, timeout: undefined });
    expect(parse(['answer', ...account, '--calls', '0'])).toMatchObject({ calls: 0 });
    expect(parse(['register', ...account])).toMatchObject({ seconds: undefined });
  });

  it('takes the lab CA when it exists, and a flag over it', () => {
    const lab: ParseContext = { env: {}, exists: (f) => f === LAB_CA_FILE };
    expect(parse(['status', ...account], lab)).toMatchObject({ account: { ca: LAB_CA_FILE, caIsLabDefault: true } });
    expect(parse(['status', ...account, '--ca', 'other.pem'], lab)).toMatchObject({ account: { ca: 'other.pem', caIsLabDefault: false } });
  });

  it('falls back on PSI_PHONE_* variables; flags win', () => {
    const env = { PSI_PHONE_USER: '1003', PSI_PHONE_PASSWORD: 'carol-1003', PSI_PHONE_SERVER: 'tls://a:5061, wss://b:8443/sip', PSI_PHONE_CA: 'env-ca.pem' };
    expect(parse(['status'], { env, exists: () => false })).toMatchObject({
      account: { user: '1003', password: 'carol-1003', ca: 'env-ca.pem', servers: [{ host: 'a' }, { host: 'b', path: '/sip' }] },
    });
    expect(parse(['status', '--user', '1001', '--ha1', 'a'.repeat(32), '--server', 'tls://c:5061'], { env, exists: () => false })).toMatchObject({
      account: { user: '1001', password: undefined, ha1: 'a'.repeat(32), servers: [{ host: 'c' }] },
    });
  });

  it('answers --help (anywhere) with the usage', () => {
    expect(parse(['call', '--help'])).toEqual({ name: 'help' });
    expect(parse(['-h'])).toEqual({ name: 'help' });
    expect(USAGE).toContain('call <extension>');
  });

  it.each([
    [['status', ...account, '--colour'], 'unknown option "--colour"'],
    [['status', ...account, '-v'], 'unknown option "-v"'],
    [['status', '--user'], '--user needs a value'],
    [['call', '1002', ...account, '--seconds', '--quiet'], '--seconds needs a value'],
    [['status', ...account, '--quiet=yes'], '--quiet takes no value'],
    [['status', ...account, '--user', '1002'], '--user is given twice'],
    [['status', '--user', '1001', '--password', 'x', '--ha1', 'a'.repeat(32)], '--password and --ha1 together'],
    [['status', '--user', '1001', '--ha1', 'xyz'], '--ha1 must be 32 hex digits'],
    [['call', '1002', ...account, '--seconds', '0'], '--seconds "0" is not a positive number'],
    [['call', '1002', ...account, '--seconds', 'ten'], '--seconds "ten" is not a positive number'],
    [['call', '1002', ...account, '--timeout', '-5'], '--timeout "-5" is not a positive number'],
    [['answer', ...account, '--calls', '1.5'], '--calls "1.5" is not a whole number'],
    [['status', ...account, '--expires', '0'], '--expires "0" is not a whole number'],
    [['status', ...account, '--server', 'udp://gw:5060'], '--server "udp://gw:5060": the scheme must be tls:// or wss://'],
    [['status', ...account, '--server', 'gw.example'], 'use tls://HOST:PORT or wss://HOST:PORT/PATH'],
    [['status', '--password', 'x'], '--user is missing'],
    [['call', ...account], 'call: which extension?'],
    [['call', 'sip:1002@gw', ...account], 'is not an extension'],
    [['call', '1002', '1003', ...account], 'unexpected argument "1003"'],
    [['status', 'now', ...account], 'unexpected argument "now"'],
    [[...account], 'which command?'],
    [['dial', '1002', ...account], 'unknown command "dial"'],
    [['status', ...account, '--play', 'tone:1000'], '--play means nothing to status'],
    [['call', '1002', ...account, '--calls', '2'], '--calls means nothing to call'],
    [['call', '1002', ...account, '--dtmf', '12x'], '--dtmf "12x": only the digits'],
  ])('%j → %s', (argv, message) => {
    expect(usageError(argv)).toContain(message);
  });

  it('names the PSI_PHONE_* variables when both secrets come from there', () => {
    expect(usageError(['status', '--user', '1001'], { env: { PSI_PHONE_PASSWORD: 'x', PSI_PHONE_HA1: 'a'.repeat(32) } })).toContain('PSI_PHONE_PASSWORD and PSI_PHONE_HA1');
  });
});

describe('psi-phone exit codes and messages', () => {
  const call = { connected: true, interrupted: false, weHungUp: false, plannedMs: 10_000 };
  it('0 only when the call connected and ran its course', () => {
    expect(outgoingCallExitCode({ ...call, weHungUp: true, connectedMs: 10_010 })).toBe(EXIT.OK);
    // Both ends hanging up after the same N seconds: the other may be a hair earlier.
    expect(outgoingCallExitCode({ ...call, connectedMs: 9_700 })).toBe(EXIT.OK);
    expect(outgoingCallExitCode({ ...call, connectedMs: 4_000 })).toBe(EXIT.ENDED_EARLY);
    expect(outgoingCallExitCode({ ...call, connected: false, connectedMs: 0 })).toBe(EXIT.NOT_CONNECTED);
    expect(outgoingCallExitCode({ ...call, interrupted: true, connectedMs: 2_000 })).toBe(EXIT.INTERRUPTED);
  });

  it('says what to do about a failed registration', () => {
    const ca = { file: undefined, isLabDefault: false };
    expect(registrationHint('403 Forbidden', undefined, ca)).toContain('--password');
    expect(registrationHint('503 Service Unavailable', 'connect ECONNREFUSED', ca)).toContain('npm run lab');
    expect(registrationHint('503 Service Unavailable', 'self-signed certificate in certificate chain', ca)).toContain('--ca');
    expect(registrationHint('Pending SIP credentials', undefined, ca)).toContain('--password or --ha1');
  });

  it('shows durations as a phone does', () => {
    expect(formatDuration(0)).toBe('00:00');
    expect(formatDuration(75.9)).toBe('01:15');
    expect(formatDuration(3723)).toBe('1:02:03');
  });

  it('numbers the recordings of answer --calls K', () => {
    expect(recordingFileFor('out.wav', 1)).toBe('out.wav');
    expect(recordingFileFor('/tmp/out.wav', 3)).toBe('/tmp/out-3.wav');
    expect(recordingFileFor('heard', 2)).toBe('heard-2');
  });

  it('exits 2 with the flag and the fix, before touching the network', async () => {
    // A phone is what would connect (with no --server, to tls://127.0.0.1:5061: a developer's lab).
    let phonesMade = 0;
    const run = async (argv: string[]): Promise<{ code: number; err: string; out: string }> => {
      const r = { code: -1, err: '', out: '' };
      r.code = await runPhoneCli(argv, { stdout: (t) => (r.out += t), stderr: (t) => (r.err += t), env: {} }, {
        createPhone: () => {
          phonesMade++;
          throw new Error('touched the network');
        },
      });
      return r;
    };
    expect(await run(['call', '1002', ...account, '--play', '/nonexistent/prompt.wav'])).toMatchObject({ code: 2, err: expect.stringContaining('--play /nonexistent/prompt.wav: no such file') });
    expect(await run(['call', '1002', ...account, '--play', 'tone:5000'])).toMatchObject({ code: 2, err: expect.stringContaining('between 0 and 4000 Hz') });
    expect(await run(['answer', ...account, '--record', '/nonexistent/dir/out.wav'])).toMatchObject({ code: 2, err: expect.stringContaining('the folder /nonexistent/dir does not exist') });
    expect(await run(['status', ...account, '--ca', '/nonexistent/ca.pem'])).toMatchObject({ code: 2, err: expect.stringContaining('--ca /nonexistent/ca.pem: no such file') });
    expect(await run(['--help'])).toMatchObject({ code: 0, out: USAGE });
    expect(await run([])).toMatchObject({ code: 2, err: expect.stringContaining('which command?') });
    expect(phonesMade).toBe(0);
  });
});
