/**
 * A crowd of TLS sets for the gateway benchmark, run as its own process so that its CPU and
 * memory are not counted as the gateway's: opens N TLS connections, registers a user over each
 * (digest MD5), answers the gateway's keepalive OPTIONS, and holds on until told to stop.
 *   tsx tls-sets.ts HOST PORT CA_FILE FIRST_EXTENSION COUNT PASSWORD_PREFIX
 * Prints "registered N failed M" once all have answered, then waits for stdin to close.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { StreamFramer, SipRequest, SipResponse, answerChallenge, createResponse, newBranch, newCallId, newTag, parseMessage, pickChallenge } from '@psi-lab/sip';

const [host, portText, caFile, firstText, countText, prefix] = process.argv.slice(2);
const port = Number(portText);
const ca = readFileSync(caFile);
const first = Number(firstText);
const count = Number(countText);
const CONCURRENCY = 200;

let registered = 0;
let failed = 0;
const sockets: tls.TLSSocket[] = [];

function register(ext: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port, ca, servername: 'localhost' }, () => send(1));
    sockets.push(socket);
    const framer = new StreamFramer();
    const callId = newCallId('set.invalid');
    const tag = newTag();
    const build = (cseq: number, authorization?: string): SipRequest => {
      const req = new SipRequest('REGISTER', `sip:${host}`, [
        ['Via', `SIP/2.0/TLS set.invalid;branch=${newBranch()};rport`],
        ['Max-Forwards', 70], ['From', `<sip:${ext}@${host}>;tag=${tag}`], ['To', `<sip:${ext}@${host}>`],
        ['Call-ID', callId], ['CSeq', `${cseq} REGISTER`], ['Contact', `<sip:${ext}@${ext}.set.invalid;transport=tls>`],
        ['Expires', 3600], ['User-Agent', 'psi-lab bench set'],
      ]);
      if (authorization) req.set('Authorization', authorization);
      return req;
    };
    const send = (cseq: number, authorization?: string): void => void socket.write(build(cseq, authorization).toBuffer());
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      resolve(ok);
    };
    socket.on('data', (chunk: Buffer) => {
      for (const item of framer.push(chunk)) {
        if (item.kind !== 'message') continue;
        const msg = parseMessage(item.data);
        if (msg instanceof SipResponse) {
          if (msg.status === 401) {
            const challenge = pickChallenge(msg.headers.getLines('www-authenticate'), ['MD5']);
            if (!challenge) return finish(false);
            send(2, answerChallenge({ challenge, method: 'REGISTER', uri: `sip:${host}`, username: ext, password: `${prefix}${ext}` }));
          } else if (msg.status === 200) finish(true);
          else if (msg.status >= 300) finish(false);
        } else if (msg instanceof SipRequest && msg.method !== 'ACK') {
          socket.write(createResponse(msg, 200).toBuffer());
        }
      }
    });
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
  });
}

async function main(): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const ext = String(first + next++);
      if (await register(ext)) registered++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  console.log(`registered ${registered} failed ${failed}`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    for (const s of sockets) s.destroy();
    process.exit(0);
  });
}

void main();
