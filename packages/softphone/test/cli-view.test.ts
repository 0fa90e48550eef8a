import { describe, expect, it } from 'vitest';
import { formatStatusLine, LiveView, type ViewMode, type ViewSnapshot } from '../src/cli/live-view.js';

const connected: ViewSnapshot = {
  user: '1001', status: 'Registered', server: 'tls://127.0.0.1:5061',
  calls: [{ peer: '1002', direction: 'outgoing', state: 'connected', seconds: 67, packetsSent: 3350, packetsHeard: 3348 }],
};

function view(mode: ViewMode, snapshot: ViewSnapshot = connected, columns?: number) {
  const out = { stdout: '', stderr: '' };
  const v = new LiveView(mode, { stdout: (t) => (out.stdout += t), stderr: (t) => (out.stderr += t), columns }, () => snapshot);
  return { v, out };
}

describe('psi-phone live view', () => {
  it('sums up registration and calls in one line', () => {
    expect(formatStatusLine(connected)).toBe('1001 Registered (tls://127.0.0.1:5061) | call to 1002: connected 01:07, 3350 packets sent, 3348 heard');
    expect(formatStatusLine({ user: '1002', status: 'Registered', calls: [{ peer: '1001', direction: 'incoming', state: 'ringing', seconds: 0 }] }))
      .toBe('1002 Registered | ringing: 1001');
    expect(formatStatusLine({ user: '1002', status: '403 Forbidden', calls: [], idle: 'waiting for a call' })).toBe('1002 403 Forbidden | waiting for a call');
  });

  it('tty: redraws the status line in place and prints events above it', () => {
    const { v, out } = view('tty');
    v.start();
    v.event('call to 1002: connected', { event: 'call', state: 'connected' });
    v.stop();
    const line = formatStatusLine(connected);
    expect(out.stdout).toBe(`\r\x1b[2K${line}\r\x1b[2Kcall to 1002: connected\n\r\x1b[2K${line}\r\x1b[2K`);
  });

  it('tty: cuts the status line to the terminal width (a wrapped line cannot be redrawn)', () => {
    const { v, out } = view('tty', connected, 30);
    v.refresh();
    expect(out.stdout.replace('\r\x1b[2K', '')).toHaveLength(29);
  });

  it('lines: one plain line per event; errors on stderr', () => {
    const { v, out } = view('lines');
    v.start();
    v.event('calling 1002', { event: 'call', state: 'calling' });
    v.result('call to 1002: answered, 2 s', { event: 'summary' });
    v.error('call to 1009 failed: 404 Not Found');
    v.stop();
    expect(out).toEqual({ stdout: 'calling 1002\ncall to 1002: answered, 2 s\n', stderr: 'call to 1009 failed: 404 Not Found\n' });
  });

  it('quiet: the result and the errors only', () => {
    const { v, out } = view('quiet');
    v.event('calling 1002', { event: 'call' });
    v.result('call to 1002: answered, 2 s', { event: 'summary' });
    expect(out.stdout).toBe('call to 1002: answered, 2 s\n');
  });

  it('json: a JSON object per line, errors as events too', () => {
    const { v, out } = view('json');
    v.event('calling 1002', { event: 'call', state: 'calling', peer: '1002' });
    v.error('call to 1009 failed: 404 Not Found');
    v.result('done', { event: 'summary', exitCode: 0 });
    expect(out.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([
      { event: 'call', state: 'calling', peer: '1002' },
      { event: 'error', message: 'call to 1009 failed: 404 Not Found' },
      { event: 'summary', exitCode: 0 },
    ]);
    expect(out.stderr).toBe('call to 1009 failed: 404 Not Found\n');
  });
});
