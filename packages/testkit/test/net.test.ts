import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseLoopbackAddress, tcpExchange, udpExchange, waitFor, within } from '../src/index.js';

/**
 * The socket helpers say when what they waited for never came, instead of handing back an empty
 * answer that a test could take for silence. The short bounds here are what is under test.
 */
const HOST = await leaseLoopbackAddress();

describe('udpExchange', () => {
  let echo: dgram.Socket;
  let mute: dgram.Socket;
  beforeAll(async () => {
    echo = dgram.createSocket('udp4');
    echo.on('message', (m, from) => echo.send(m, from.port, from.address));
    mute = dgram.createSocket('udp4');
    await Promise.all([echo, mute].map((s) => new Promise<void>((r) => s.bind(0, HOST, () => r()))));
  });
  afterAll(() => {
    echo.close();
    mute.close();
  });

  it('resolves on the expected answers, from the address asked for', async () => {
    const got = await udpExchange(Buffer.from('ping'), { address: HOST, port: echo.address().port }, { fromAddress: HOST, expect: 1 });
    expect(got.map(String)).toEqual(['ping']);
  });

  it('rejects, saying so, when the expected answers do not come within waitMs', async () => {
    await expect(udpExchange(Buffer.from('ping'), { address: HOST, port: mute.address().port }, { fromAddress: HOST, expect: 1, waitMs: 200 }))
      .rejects.toThrow(/0 of 1 expected answer\(s\) .* within 200 ms/);
  });

  it('collects for an explicit silence window, and refuses to guess one', async () => {
    expect(await udpExchange(Buffer.from('ping'), { address: HOST, port: mute.address().port }, { fromAddress: HOST, silenceMs: 50 })).toEqual([]);
    await expect(udpExchange(Buffer.from('ping'), { address: HOST, port: mute.address().port })).rejects.toThrow(/expect.*silenceMs/);
  });

  it('rejects on a port it cannot bind instead of hanging', async () => {
    await expect(udpExchange(Buffer.from('ping'), { address: HOST, port: echo.address().port }, { fromAddress: HOST, fromPort: mute.address().port, expect: 1 }))
      .rejects.toThrow(/cannot bind .*EADDRINUSE/);
  });
});

describe('tcpExchange', () => {
  let server: net.Server;
  let port = 0;
  beforeAll(async () => {
    // Answers "ok" to "hello", closes on "bye", says nothing to anything else.
    server = net.createServer((s) => s.on('data', (d) => {
      if (String(d) === 'hello') s.write('ok');
      else if (String(d) === 'bye') s.end();
    }));
    await new Promise<void>((r) => server.listen(0, HOST, r));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('resolves when `until` holds, or on the close', async () => {
    expect(await tcpExchange('hello', port, { host: HOST, until: (t) => t === 'ok' })).toMatchObject({ text: 'ok', closed: false });
    expect(await tcpExchange('bye', port, { host: HOST })).toMatchObject({ text: '', closed: true });
  });

  it('rejects, naming what never came, at waitMs', async () => {
    await expect(tcpExchange('what?', port, { host: HOST, until: (t) => t === 'ok', waitMs: 200 })).rejects.toThrow(/no sign of the expected answer .* within 200 ms/);
    await expect(tcpExchange('what?', port, { host: HOST, waitMs: 200 })).rejects.toThrow(/the server to close the connection/);
  });

  it('resolves after an explicit silence window', async () => {
    expect(await tcpExchange('what?', port, { host: HOST, silenceMs: 50 })).toMatchObject({ text: '', closed: false });
  });
});

describe('waitFor and within', () => {
  it('resolve on the event, and reject naming it at the bound', async () => {
    let flag = false;
    setImmediate(() => (flag = true));
    await waitFor(() => flag, 1000, 'the flag');
    await expect(waitFor(() => false, 50, 'a thing that never happens')).rejects.toThrow(/waiting for a thing that never happens/);
    expect(await within(Promise.resolve(7), 1000, 'seven')).toBe(7);
    await expect(within(new Promise(() => undefined), 50, () => 'a promise that never settles')).rejects.toThrow(/a promise that never settles/);
  });
});
