import { describe, expect, it } from 'vitest';
import { DEFAULT_API, UsageError, parseArguments } from '../src/cli/args.js';

const parse = (line: string[], env: Record<string, string> = {}) => parseArguments(line, env);

describe('psi-pbx argument parsing', () => {
  it('reads global options anywhere, with env fallbacks', () => {
    expect(parse(['subscriber', 'list'])).toEqual({ command: { kind: 'subscriber list' }, api: DEFAULT_API, token: undefined, json: false });
    expect(parse(['--json', 'subscriber', 'list', '--api', 'http://pbx:1', '--token=t'])).toEqual({ command: { kind: 'subscriber list' }, api: 'http://pbx:1', token: 't', json: true });
    expect(parse(['role', 'list'], { PSI_PBX_TOKEN: 'from-env', PSI_PBX_API: 'http://env:2' })).toMatchObject({ token: 'from-env', api: 'http://env:2' });
    expect(parse(['role', 'list', '--token', 'flag'], { PSI_PBX_TOKEN: 'from-env' }).token).toBe('flag');
  });

  it('parses subscriber commands', () => {
    expect(parse(['subscriber', 'add', '--extension', '1004', '--name', 'Dan', '--email', 'dan@x', '--password', 'pw-dan-1234', '--role', 'Zoom PSI User']).command)
      .toEqual({ kind: 'subscriber add', subscriber: { extension: '1004', name: 'Dan', email: 'dan@x', password: 'pw-dan-1234', role: 'Zoom PSI User' } });
    expect(parse(['subscriber', 'add', '--extension=1004', '--name=Dan', '--email=dan@x', '--password=--odd', '--dnd-allowed', 'off']).command)
      .toMatchObject({ subscriber: { password: '--odd', dndAllowed: false } });
    expect(parse(['subscriber', 'show', '1004']).command).toEqual({ kind: 'subscriber show', extension: '1004' });
    expect(parse(['subscriber', 'remove', '1004']).command).toEqual({ kind: 'subscriber remove', extension: '1004' });
    expect(parse(['subscriber', 'set', '1004', '--dnd', 'on', '--forward-all', '1002', '--forward-busy', 'off', '--forward-noanswer', '1003', '--delay', '15']).command)
      .toEqual({
        kind: 'subscriber set', extension: '1004',
        changes: { clearForwardings: false, dndActive: true, forward: { all: '1002', busy: null, noAnswer: '1003' }, delaySeconds: 15 },
      });
    expect(parse(['subscriber', 'set', '1004', '--no-forward', '--no-role']).command)
      .toMatchObject({ changes: { clearForwardings: true, forward: {}, role: null } });
  });

  it('parses role, mbg, allow-list and blocks commands', () => {
    expect(parse(['role', 'set', 'Zoom PSI User', '--zoom-psi']).command).toEqual({ kind: 'role set', name: 'Zoom PSI User', zoomPsi: true });
    expect(parse(['role', 'set', 'Std', '--no-zoom-psi', '--description', 'plain']).command).toEqual({ kind: 'role set', name: 'Std', zoomPsi: false, description: 'plain' });
    expect(parse(['role', 'set', 'Std', '--description', 'only']).command).toEqual({ kind: 'role set', name: 'Std', description: 'only' });
    expect(parse(['role', 'remove', 'Std']).command).toEqual({ kind: 'role remove', name: 'Std' });
    expect(parse(['mbg', 'set', '--address', '10.0.0.5', '--fqdn', 'mbg.x', '--account', 'a', '--secret', 's']).command)
      .toEqual({ kind: 'mbg set', fields: { address: '10.0.0.5', publicFqdn: 'mbg.x', account: 'a', sharedSecret: 's' } });
    expect(parse(['mbg', 'clear']).command).toEqual({ kind: 'mbg clear' });
    expect(parse(['allow-list', 'add', '10.0.0.0/8', '--comment', 'office']).command).toEqual({ kind: 'allow-list add', cidr: '10.0.0.0/8', comment: 'office' });
    expect(parse(['allow-list', 'remove', '3']).command).toEqual({ kind: 'allow-list remove', id: '3' });
    expect(parse(['blocks', 'lift', '2001:db8::7']).command).toEqual({ kind: 'blocks lift', address: '2001:db8::7' });
    expect(parse(['--help']).command).toEqual({ kind: 'help' });
    expect(parse([]).command).toEqual({ kind: 'help' });
    expect(parse(['subscriber', 'list', '-h']).command).toEqual({ kind: 'help' });
  });

  it('rejects bad command lines with a message saying what is wrong', () => {
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['subscriber'], /needs a sub-command/],
      [['subscriber', 'fly'], /unknown command "subscriber fly"/],
      [['subscriber', 'show'], /takes EXT, got none/],
      [['subscriber', 'list', 'extra'], /takes no arguments/],
      [['subscriber', 'add', '--extension', '1004'], /needs --name/],
      [['subscriber', 'set', '1004'], /needs something to change/],
      [['subscriber', 'set', '1004', '--dnd', 'maybe'], /--dnd takes on or off/],
      [['subscriber', 'set', '1004', '--delay', 'soon'], /whole number/],
      [['subscriber', 'set', '1004', '--role', 'X', '--no-role'], /contradict/],
      [['subscriber', 'list', '--zoom-psi'], /"subscriber list" has no option --zoom-psi/],
      [['subscriber', 'list', '--bogus'], /unknown option --bogus/],
      [['subscriber', 'show', '1004', '--token'], /--token needs a value/],
      [['role', 'list', '--json=yes'], /--json takes no value/],
      [['role', 'list', '--json', '--json'], /given twice/],
      [['mbg', 'set'], /at least one of/],
    ];
    for (const [argv, message] of cases) {
      expect(() => parse(argv), argv.join(' ')).toThrow(UsageError);
      expect(() => parse(argv), argv.join(' ')).toThrow(message);
    }
  });
});
