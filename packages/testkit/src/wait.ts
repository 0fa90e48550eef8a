/**
 * Bounded waits for the event a test needs. The bounds are generous (a busy 2-core machine may
 * stall a test for seconds); reaching one is a failure that says what never happened, never a
 * silent "nothing came".
 */

/** The bound a test waits for an event it expects, unless it says otherwise. */
export const EVENT_LIMIT_MS = 10_000;

function describeWhat(what: string | (() => string)): string {
  return typeof what === 'string' ? what : what();
}

/** Polls `condition` until it holds; throws naming `what` once `limitMs` of wall time have passed. */
export async function waitFor(condition: () => boolean, limitMs: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${limitMs / 1000} s waiting for ${describeWhat(what)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** What `promise` gives, or an error naming `what` if it has not settled within `limitMs`. */
export async function within<T>(promise: Promise<T>, limitMs: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${limitMs / 1000} s waiting for ${describeWhat(what)}`)), limitMs);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}
