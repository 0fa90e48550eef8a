import type { Call } from '../phone/call.js';
import type { CallCommand } from './args.js';
import { EXIT, callFailureHint, outgoingCallExitCode } from './outcome.js';
import type { CliPhoneSession } from './phone-session.js';
import { waitForRecording } from './recording.js';
import { hangUpAndWait, runConnected, timeout, whenConnected } from './waits.js';

/**
 * `psi-phone call EXT`: register, call, play, send --dtmf, hang up after --seconds connected, and
 * say how it went. The exit code tells a script whether it connected and ran its course.
 */
export async function runCall(session: CliPhoneSession, cmd: CallCommand): Promise<number> {
  const { view, phone } = session;
  const peer = cmd.extension;
  if (!(await session.register())) return session.wasInterrupted ? EXIT.INTERRUPTED : EXIT.NOT_REGISTERED;
  session.takeIncoming(() => false, () => `busy with the call to ${peer}`);

  view.event(`calling ${peer}`, { event: 'call', state: 'calling', direction: 'outgoing', peer });
  const wallStart = Date.now();
  let call: Call;
  try {
    call = await phone.call(peer, { play: cmd.play, record: cmd.record, onDtmf: session.dtmfReporter(peer) });
  } catch (e) {
    view.error(`call to ${peer} failed: ${(e as Error).message}`);
    summary(session, cmd, { exitCode: EXIT.NOT_CONNECTED, outcome: 'failed', detail: (e as Error).message });
    return EXIT.NOT_CONNECTED;
  }
  const w = session.watch(call);
  view.refresh();

  const noAnswer = timeout(cmd.timeout);
  const first = await Promise.race([whenConnected(call), w.ended.then(() => 'ended' as const), noAnswer.promise, session.interrupted]);
  noAnswer.cancel();
  if (first === 'timeout' || first === 'interrupted') await hangUpAndWait(call, w.ended);

  let weHungUp = false;
  if (first === 'connected') {
    const end = await runConnected(call, { ended: w.ended, interrupted: session.interrupted, seconds: cmd.seconds, dtmf: cmd.dtmf, sendDtmf: (d) => session.sendDtmf(call, d) });
    weHungUp = end === 'timeout';
  }

  const entry = w.entry;
  const connected = w.connectedAt !== undefined;
  const connectedMs = session.connectedMs(w);
  const exitCode = outgoingCallExitCode({
    connected, interrupted: session.wasInterrupted, weHungUp, connectedMs, plannedMs: cmd.seconds * 1000,
  });
  const seconds = Math.round(connectedMs / 1000);
  const recorded = connected && cmd.record ? await waitForRecording(cmd.record, wallStart) : false;
  if (connected && cmd.record && !recorded) view.error(`the recording ${cmd.record} was not written: is its folder writable? (--verbose shows why)`);

  let text: string;
  let detail: string | undefined;
  if (exitCode === EXIT.NOT_CONNECTED) {
    const status = entry?.detail ? Number(entry.detail.slice(0, 3)) : undefined;
    detail = first === 'timeout' ? `not answered within ${cmd.timeout} s` : entry?.detail ?? entry?.outcome ?? 'ended before it connected';
    const hint = status ? callFailureHint(status, peer) : first === 'timeout' ? `is anyone answering ${peer}? raise --timeout to wait longer` : '';
    view.error(`call to ${peer} failed: ${detail}${hint ? ` — ${hint}` : ''}`);
    text = `call to ${peer}: not connected (${detail})`;
  } else if (exitCode === EXIT.ENDED_EARLY) {
    detail = `${peer} hung up after ${seconds} s of ${cmd.seconds}`;
    view.error(`call to ${peer} ended early: ${detail}`);
    text = `call to ${peer}: answered, ended early by ${peer} after ${seconds} s`;
  } else if (exitCode === EXIT.INTERRUPTED) {
    text = `call to ${peer}: interrupted (Ctrl-C) ${connected ? `after ${seconds} s connected` : 'before it was answered'}`;
  } else {
    text = `call to ${peer}: answered, ${seconds} s`;
  }
  if (recorded) text += `, recorded to ${cmd.record}`;
  if (w.packets) text += ` (${w.packets.sent} packets sent, ${w.packets.heard} heard)`;
  summary(session, cmd, {
    exitCode, outcome: exitCode === EXIT.INTERRUPTED ? 'interrupted' : entry?.outcome ?? 'failed', seconds, detail,
    recording: recorded ? cmd.record : undefined, packetsSent: w.packets?.sent, packetsHeard: w.packets?.heard,
  }, text);
  return exitCode;
}

function summary(session: CliPhoneSession, cmd: CallCommand, fields: Record<string, unknown>, text?: string): void {
  const json = Object.fromEntries(Object.entries({ event: 'summary', command: 'call', peer: cmd.extension, ...fields }).filter(([, v]) => v !== undefined));
  session.view.result(text, json as { event: string });
}
