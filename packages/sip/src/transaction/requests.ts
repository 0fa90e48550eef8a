import { SipRequest, type SipResponse } from '../message/index.js';

/**
 * The ACK a client INVITE transaction sends for a 3xx–6xx (RFC 3261 §17.1.1.3): it belongs to
 * the INVITE's transaction, so it carries the INVITE's top Via (same branch), Request-URI,
 * Call-ID, From and CSeq number, the To of the response (with its tag) and the same Route set.
 */
export function buildAckForFailure(invite: SipRequest, response: SipResponse): SipRequest {
  return buildSibling(invite, 'ACK', response.get('to') ?? invite.get('to') ?? '');
}

/**
 * The CANCEL of a pending request (RFC 3261 §9.1): the same fields as the ACK above but the To
 * of the request, plus an optional Reason (RFC 3326), e.g. `SIP;cause=200;text="Call completed elsewhere"`.
 */
export function buildCancel(request: SipRequest, reason?: string): SipRequest {
  const cancel = buildSibling(request, 'CANCEL', request.get('to') ?? '');
  if (reason !== undefined) cancel.append('Reason', reason);
  return cancel;
}

function buildSibling(original: SipRequest, method: 'ACK' | 'CANCEL', to: string): SipRequest {
  const topVia = original.getAll('via')[0];
  const request = new SipRequest(method, original.uri, [['Via', topVia]]);
  // Route lines are copied as written: the message must take the same path as the original.
  for (const route of original.headers.getLines('route')) request.append('Route', route);
  request.append('Max-Forwards', original.get('max-forwards') ?? 70);
  request.append('From', original.get('from') ?? '');
  request.append('To', to);
  request.append('Call-ID', original.callId);
  request.append('CSeq', `${original.cseq.seq} ${method}`);
  return request;
}
