/** A failure worth one line to the user: printed as "psi-pbx: <message>", exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

export type FetchFunction = typeof fetch;

/** The management REST API as the CLI uses it: JSON in, JSON out, errors as CliError. */
export class ApiClient {
  private readonly base: string;

  constructor(base: string, private readonly token: string, private readonly fetchFunction: FetchFunction = fetch, private readonly timeoutMs = 10_000) {
    this.base = base.replace(/\/+$/, '');
  }

  /** The parsed JSON answer, or undefined for an empty one (204). */
  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await this.fetchFunction(this.base + path, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new CliError(`cannot reach the management API at ${this.base}: ${describeNetworkError(error)}`);
    }
    const text = await response.text();
    const parsed = parseJson(text);
    if (!response.ok) throw new CliError(apiErrorMessage(parsed) ?? `the management API answered ${response.status} ${response.statusText}`, response.status);
    if (text.trim() !== '' && parsed === undefined) throw new CliError(`the management API at ${this.base} answered something that is not JSON`);
    return parsed;
  }
}

/** Segments go into URLs escaped: role names have spaces, IPv6 addresses colons. */
export function pathOf(...segments: string[]): string {
  return segments.map((s, i) => (i === 0 ? s : encodeURIComponent(s))).join('/');
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function apiErrorMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const { error } = body;
  if (typeof error !== 'object' || error === null || !('message' in error) || typeof error.message !== 'string') return undefined;
  return error.message;
}

function describeNetworkError(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer in time';
  // fetch hides the system error (ECONNREFUSED...) in `cause`.
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) return 'code' in cause && typeof cause.code === 'string' ? cause.code : cause.message;
  return error instanceof Error ? error.message : String(error);
}
