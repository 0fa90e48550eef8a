import type { Call } from '../phone/call.js';
import type { AnswerCommand } from './args.js';
import { EXIT } from './outcome.js';
import type { CliPhoneSession } from './phone-session.js';
import { recordingFileFor, waitForRecording } from './recording.js';
import { hangUpAndWait, runConnected, timeout, whenConnected } from './waits.js';

interface AnsweredCall {
  peer: string;
  /** The parties the call went on with, in turn, when it was transferred (REFER followed, or replaced). */
  transferredTo?: string[];
  seconds: number;
  endedBy: 'caller' | 'us';
  recording?: string;
  packetsSent?: number;
  packetsHeard?: number;
}

/**
 * `psi-phone answer`: register, wait for a call, answer it with --play and --record, hang up
 * after --seconds (or when the caller does); --calls K times (0: until Ctrl-C). A call that came
 * and went before it connected (the caller gave up) does not count; a call transferred to
 * another party goes on with that party, as the same call.
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
  const unlimited = cmd.calls === 0;
  while (unlimited || answered.length < cmd.calls) {
    const n = answered.length + 1;
    session.idleText = unlimited ? `waiting for call ${n} (Ctrl-C ends)` : cmd.calls > 1 ? `waiting for call ${n} of ${cmd.calls}` : 'waiting for a call';
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
  const text = (exitCode === EXIT.OK && cmd.calls > 1) || unlimited ? `answered ${answered.length} call${answered.length === 1 ? '' : 's'}` : undefined;
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

  // A transfer hands the call on to another party: follow it, as the person at the phone would.
  let current = call;
  let handedOn: Call | undefined;
  const onTransferred = (from: Call, to: Call): void => {
    if (from === current) handedOn = to;
  };
  phone.on('transferred', onTransferred);
  const transferredTo: string[] = [];
  let watched = w;
  let connectedMs = 0;
  let end: Awaited<ReturnType<typeof runConnected>>;
  try {
    for (;;) {
      end = await runConnected(current, { ended: watched.ended, interrupted: session.interrupted, seconds: cmd.seconds, dtmf: cmd.dtmf, sendDtmf: (d) => session.sendDtmf(current, d) });
      connectedMs += session.connectedMs(watched);
      const next: Call | undefined = handedOn;
      if (end !== 'ended' || !next || next.state === 'ended') break;
      handedOn = undefined;
      current = next;
      transferredTo.push(next.peer);
      view.event(`call from ${peer}: transferred, now with ${next.peer}`, { event: 'call', state: 'transferred', direction: 'incoming', peer, to: next.peer });
      watched = session.watch(next);
      const connected = await Promise.race([whenConnected(next), watched.ended.then(() => 'ended' as const), session.interrupted]);
      if (connected === 'interrupted') {
        await hangUpAndWait(next, watched.ended);
        end = 'interrupted';
        break;
      }
      if (connected === 'ended') break;
    }
  } finally {
    phone.off('transferred', onTransferred);
  }
  const seconds = Math.round(connectedMs / 1000);

  const recorded = record ? await waitForRecording(record, wallStart) : false;
  if (record && !recorded) view.error(`the recording ${record} was not written: is its folder writable? (--verbose shows why)`);
  const endedBy = end === 'ended' ? 'caller' : 'us';
  const last = transferredTo.at(-1) ?? peer;
  let text = `call from ${peer}: answered, ${seconds} s, ${transferredTo.length > 0 ? `transferred to ${transferredTo.join(', then ')}, ` : ''}${endedBy === 'caller' ? `${last} hung up` : 'we hung up'}`;
  if (recorded) text += `, recorded to ${record}`;
  if (w.packets) text += ` (${w.packets.sent} packets sent, ${w.packets.heard} heard)`;
  const result: AnsweredCall = {
    peer, ...(transferredTo.length > 0 ? { transferredTo } : {}), seconds, endedBy, ...(recorded ? { recording: record } : {}),
    ...(w.packets ? { packetsSent: w.packets.sent, packetsHeard: w.packets.heard } : {}),
  };
  if (end === 'interrupted') {
    view.result(`${text} (Ctrl-C)`, undefined);
    return 'interrupted';
  }
  view.result(text, { event: 'answered', ...result });
  return result;
}
