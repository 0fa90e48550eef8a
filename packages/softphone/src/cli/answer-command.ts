import type { Call } from '../phone/call.js';
import type { AnswerCommand } from './args.js';
import { EXIT } from './outcome.js';
import type { CliPhoneSession } from './phone-session.js';
import { recordingFileFor, waitForRecording } from './recording.js';
import { hangUpAndWait, runConnected, timeout, whenConnected } from './waits.js';

interface AnsweredCall {
  peer: string;
  seconds: number;
  endedBy: 'caller' | 'us';
  recording?: string;
  packetsSent?: number;
  packetsHeard?: number;
}

/**
 * `psi-phone answer`: register, wait for a call, answer it with --play and --record, hang up
 * after --seconds (or when the caller does); --calls K times. A call that came and went before
 * it connected (the caller gave up) does not count.
 */
export async function runAnswer(session: CliPhoneSession, cmd: AnswerCommand): Promise<number> {
  const { view } = session;
  const user = session.account.user;
  if (!(await session.register())) return session.wasInterrupted ? EXIT.INTERRUPTED : EXIT.NOT_REGISTERED;

  // One call at a time: a call offered while another is up, or before we look for the next, waits here or is refused.
  let busy = false;
  let offered: Call | undefined;
  let deliver: ((call: Call) => void) | undefined;
  session.takeIncoming((call) => {
    if (busy || offered) return false;
    view.event(`ringing: ${call.peer}`, { event: 'call', state: 'ringing', direction: 'incoming', peer: call.peer });
    if (deliver) deliver(call);
    else offered = call;
    return true;
  }, () => 'already on a call');
  const nextCall = (): Promise<Call> => {
    if (offered) {
      const call = offered;
      offered = undefined;
      return Promise.resolve(call);
    }
    return new Promise((resolve) => (deliver = (call) => {
      deliver = undefined;
      resolve(call);
    }));
  };

  const answered: AnsweredCall[] = [];
  let exitCode: number = EXIT.OK;
  while (answered.length < cmd.calls) {
    const n = answered.length + 1;
    session.idleText = cmd.calls > 1 ? `waiting for call ${n} of ${cmd.calls}` : 'waiting for a call';
    view.event(`waiting for a call to ${user}${cmd.timeout ? ` (up to ${cmd.timeout} s)` : ''}`, { event: 'waiting', user, call: n });
    view.refresh();
    const noCall = timeout(cmd.timeout);
    const next = await Promise.race([nextCall(), noCall.promise, session.interrupted]);
    noCall.cancel();
    if (next === 'timeout' || next === 'interrupted') {
      deliver = undefined;
      if (next === 'timeout') view.error(`no call to ${user} within ${cmd.timeout} s — call it (psi-phone call ${user} ...), or raise --timeout`);
      exitCode = next === 'timeout' ? EXIT.NOT_CONNECTED : EXIT.INTERRUPTED;
      break;
    }
    busy = true;
    const result = await takeCall(session, cmd, next, n);
    busy = false;
    if (result === 'interrupted') {
      exitCode = EXIT.INTERRUPTED;
      break;
    }
    if (result) answered.push(result);
  }
  session.idleText = undefined;
  // Done: calls that come in now are refused.
  busy = true;

  const json = { event: 'summary', command: 'answer', exitCode, calls: answered };
  const text = exitCode === EXIT.OK && cmd.calls > 1 ? `answered ${answered.length} calls` : undefined;
  view.result(text, json);
  return exitCode;
}

/** Answer one call and see it through; undefined when it ended before it connected. */
async function takeCall(session: CliPhoneSession, cmd: AnswerCommand, call: Call, n: number): Promise<AnsweredCall | 'interrupted' | undefined> {
  const { view, phone } = session;
  const peer = call.peer;
  const record = cmd.record ? recordingFileFor(cmd.record, n) : undefined;
  const wallStart = Date.now();
  const w = session.watch(call);
  try {
    await phone.answer(call, { play: cmd.play, record, onDtmf: session.dtmfReporter(peer) });
  } catch (e) {
    if (call.state !== 'ended') view.error(`could not answer the call from ${peer}: ${(e as Error).message}`);
    await hangUpAndWait(call, w.ended);
  }
  const first = await Promise.race([whenConnected(call), w.ended.then(() => 'ended' as const), session.interrupted]);
  if (first === 'interrupted') {
    await hangUpAndWait(call, w.ended);
    return 'interrupted';
  }
  if (first === 'ended') {
    view.event(`missed a call from ${peer}: it ended before it connected`, { event: 'call', state: 'missed', direction: 'incoming', peer });
    return undefined;
  }

  const end = await runConnected(call, { ended: w.ended, interrupted: session.interrupted, seconds: cmd.seconds, dtmf: cmd.dtmf, sendDtmf: (d) => session.sendDtmf(call, d) });
  const seconds = Math.round(session.connectedMs(w) / 1000);

  const recorded = record ? await waitForRecording(record, wallStart) : false;
  if (record && !recorded) view.error(`the recording ${record} was not written: is its folder writable? (--verbose shows why)`);
  const endedBy = end === 'ended' ? 'caller' : 'us';
  let text = `call from ${peer}: answered, ${seconds} s, ${endedBy === 'caller' ? `${peer} hung up` : 'we hung up'}`;
  if (recorded) text += `, recorded to ${record}`;
  if (w.packets) text += ` (${w.packets.sent} packets sent, ${w.packets.heard} heard)`;
  const result: AnsweredCall = {
    peer, seconds, endedBy, ...(recorded ? { recording: record } : {}),
    ...(w.packets ? { packetsSent: w.packets.sent, packetsHeard: w.packets.heard } : {}),
  };
  if (end === 'interrupted') {
    view.result(`${text} (Ctrl-C)`, undefined);
    return 'interrupted';
  }
  view.result(text, { event: 'answered', ...result });
  return result;
}
