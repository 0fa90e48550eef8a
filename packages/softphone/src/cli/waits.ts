import type { Call } from '../phone/call.js';

/** A timeout the commands race against; cancelled so that no timer outlives its wait. */
export interface Timeout {
  promise: Promise<'timeout'>;
  cancel(): void;
}

/** Resolves 'timeout' after `seconds`; never when `seconds` is undefined. */
export function timeout(seconds: number | undefined): Timeout {
  if (seconds === undefined) return { promise: new Promise(() => undefined), cancel: () => undefined };
  let handle: NodeJS.Timeout | undefined;
  const promise = new Promise<'timeout'>((resolve) => (handle = setTimeout(() => resolve('timeout'), seconds * 1000)));
  return { promise, cancel: () => clearTimeout(handle) };
}

/** Resolves 'connected' once the call is (and stays pending if it ends first). */
export function whenConnected(call: Call): Promise<'connected'> {
  if (call.state === 'connected') return Promise.resolve('connected');
  return new Promise((resolve) => {
    const onState = (state: string): void => {
      if (state === 'connected') resolve('connected');
      if (state !== 'ringing') call.off('state', onState);
    };
    call.on('state', onState);
  });
}

/** Hang up and wait for the call's end, at most a few seconds (a lost BYE must not hang the CLI). */
export async function hangUpAndWait(call: Call, ended: Promise<unknown>): Promise<void> {
  await call.hangUp().catch(() => undefined);
  const limit = timeout(5);
  await Promise.race([ended, limit.promise]);
  limit.cancel();
}

/** Before the first DTMF digit: a person does not key digits the instant the call connects either, and the media path settles. */
const DTMF_DELAY_MS = 500;

/**
 * The connected part of a call, for call and answer alike: --dtmf after a moment, then until the
 * call ends, --seconds pass, or Ctrl-C; hung up by us unless it ended by itself.
 */
export async function runConnected(
  call: Call,
  options: { ended: Promise<unknown>; interrupted: Promise<'interrupted'>; seconds: number | undefined; dtmf?: string; sendDtmf(digits: string): void },
): Promise<'ended' | 'timeout' | 'interrupted'> {
  const { dtmf } = options;
  const dtmfTimer = dtmf ? setTimeout(() => call.state === 'connected' && options.sendDtmf(dtmf), DTMF_DELAY_MS) : undefined;
  const course = timeout(options.seconds);
  const end = await Promise.race([options.ended.then(() => 'ended' as const), course.promise, options.interrupted]);
  course.cancel();
  clearTimeout(dtmfTimer);
  if (end !== 'ended') await hangUpAndWait(call, options.ended);
  return end;
}
