import type { HeaderInit, SipResponse } from '../message/index.js';
import { createResponse, newTag } from '../message/index.js';
import type { IncomingRequest } from './incoming-request.js';

export interface SendOptions {
  headers?: HeaderInit;
  body?: Buffer | string;
}

/** What actually puts a response on the wire (the server transaction, or a stateless send for ACK). */
export type ResponseSink = (response: SipResponse) => Promise<void>;

/**
 * The `res` of a handler: `res.send(status[, reason][, { headers, body }])`. Provisional
 * responses may be sent any number of times, one final response at most; the To tag stays the
 * same across them so they belong to one dialog.
 */
export class OutgoingResponse {
  finalResponseSent = false;
  lastStatus: number | undefined;
  readonly toTag: string;
  /** Headers every response of this request carries (Server, Allow...), set by the app. */
  readonly defaultHeaders: Array<[string, string]> = [];

  onSendError: ((error: Error, response: SipResponse) => void) | undefined;

  /** `toTag`: given for a stateless answer, which must carry the same tag for every retransmission. */
  constructor(private readonly req: IncomingRequest, private readonly sink: ResponseSink, toTag: string = newTag()) {
    this.toTag = toTag;
  }

  /**
   * Pass on a response built elsewhere, as a proxy does with what a branch answered (its To
   * tag kept). Further 2xx after a first one are allowed: forked 2xx all go upstream.
   */
  relay(response: SipResponse): Promise<SipResponse> {
    const isSuccess = (status: number | undefined): boolean => status !== undefined && status >= 200 && status < 300;
    // After a final response only another 2xx (a forked one) may follow a 2xx.
    if (this.finalResponseSent && !(isSuccess(response.status) && isSuccess(this.lastStatus))) return Promise.resolve(response);
    if (response.status >= 200) this.finalResponseSent = true;
    this.lastStatus = response.status;
    return this.sink(response).then(() => response, (error: Error) => {
      this.onSendError?.(error, response);
      return response;
    });
  }

  /**
   * Misuse (a second final response, a bad status) throws at once: a handler bug, reported as
   * 500 by the app. A transport failure does not reject: it is logged by `onSendError` and the
   * transaction ends, so `void res.send(...)` is always safe.
   */
  send(status: number, reasonOrOptions?: string | SendOptions, maybeOptions?: SendOptions): Promise<SipResponse> {
    const reason = typeof reasonOrOptions === 'string' ? reasonOrOptions : undefined;
    const options = (typeof reasonOrOptions === 'object' ? reasonOrOptions : maybeOptions) ?? {};
    if (this.finalResponseSent) {
      throw new Error(`${this.req.method} ${this.req.callId}: a final response (${this.lastStatus}) was already sent`);
    }
    if (!Number.isInteger(status) || status < 100 || status > 699) {
      throw new Error(`status ${status} is not a SIP status code`);
    }
    const response = createResponse(this.req.msg, status, { reason, toTag: this.toTag, body: options.body });
    for (const [name, value] of this.defaultHeaders) if (!hasHeader(options.headers, name)) response.append(name, value);
    appendAll(response, options.headers);
    if (options.body !== undefined && !response.has('content-type') && response.body.length > 0) {
      response.set('Content-Type', 'application/sdp');
    }
    if (status >= 200) this.finalResponseSent = true;
    this.lastStatus = status;
    return this.sink(response).then(() => response, (error: Error) => {
      this.onSendError?.(error, response);
      return response;
    });
  }
}

function entries(headers: HeaderInit | undefined): Array<[string, string | number]> {
  if (!headers) return [];
  return Symbol.iterator in headers ? [...(headers as Iterable<[string, string | number]>)] : Object.entries(headers);
}

function hasHeader(headers: HeaderInit | undefined, name: string): boolean {
  return entries(headers).some(([n]) => n.toLowerCase() === name.toLowerCase());
}

/** The caller's headers replace ours of the same name; several of one name are all kept. */
function appendAll(response: SipResponse, headers: HeaderInit | undefined): void {
  const list = entries(headers);
  for (const name of new Set(list.map(([n]) => n.toLowerCase()))) response.remove(name);
  for (const [name, value] of list) response.append(name, String(value));
}
