import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './errors.js';

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * The request body parsed as JSON; an empty body is undefined. Stops reading past
 * MAX_BODY_BYTES: nobody gets to make the pbx buffer an arbitrary upload.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const declaredType = req.headers['content-type'];
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  // A form post from a browser page (text/plain, urlencoded) must not pass for an API call.
  if (hasBody && !/^application\/json\s*(;|$)/i.test(declaredType ?? '')) {
    throw new ApiError(415, 'unsupported-media-type', 'content-type',
      `the request body must be JSON sent with "Content-Type: application/json"${declaredType ? `, not "${declaredType}"` : ' (none was given)'}`, { accept: 'application/json' });
  }
  const tooLarge = (): ApiError => new ApiError(413, 'body-too-large', 'body', `the request body is larger than ${maxBytes} bytes`, { connection: 'close' });
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    let received = 0;
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      // Keep draining without keeping: destroying the request here would reset the socket
      // before the 413 reaches the client; "connection: close" ends it after the answer.
      req.off('data', onData);
      req.resume();
      reject(tooLarge());
    };
    req.on('data', onData);
    req.once('end', resolve);
    req.once('error', reject);
  });
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ApiError(400, 'bad-json', 'body', `the request body is not valid JSON: ${detail}`);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    // Answers may carry credentials (gateway route) or personal data: never cached.
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'cache-control': 'no-store', ...headers });
  res.end();
}
