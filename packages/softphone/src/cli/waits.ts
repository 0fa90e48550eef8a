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
