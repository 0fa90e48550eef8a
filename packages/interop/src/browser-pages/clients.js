// What the interop test drives in the page: sip.js and JsSIP exactly as a web softphone would
// use them (their defaults, a password, the gateway's WSS URL), nothing patched. Each function
// settles on the library's own event and returns plain data the test can read back; the bound on
// how long that may take is the test's (testkit's within()), not a timer in here.
import { Registerer, RegistererState, UserAgent, version as sipJsVersion } from '/sip.js/lib/index.js';

/* global JsSIP */
const clients = new Map();

/** sip.js: a UserAgent (its WebSocket transport) and a Registerer, settled on Registered or a rejection. */
async function sipjsRegister({ id, server, aor, user, password }) {
  const ua = new UserAgent({
    uri: UserAgent.makeURI(aor),
    transportOptions: { server },
    authorizationUsername: user,
    authorizationPassword: password,
    logLevel: 'warn',
  });
  const registerer = new Registerer(ua);
  clients.set(id, { kind: 'sip.js', ua, registerer });
  const states = [];
  const settled = new Promise((resolve) => {
    registerer.stateChange.addListener((state) => {
      states.push(state);
      if (state === RegistererState.Registered) resolve({ outcome: 'registered' });
    });
    // sip.js answers the first 401 itself; onReject sees only what it gave up on (a 403, a second 401).
    const requestDelegate = {
      onReject: (response) => resolve({ outcome: 'rejected', status: response.message.statusCode, reason: response.message.reasonPhrase }),
    };
    ua.start()
      .then(() => registerer.register({ requestDelegate }))
      .catch((error) => resolve({ outcome: 'error', reason: String(error) }));
  });
  const result = await settled;
  return { ...result, states, userAgent: ua.configuration.userAgentString, version: sipJsVersion };
}

async function sipjsUnregister(id) {
  const { registerer, ua } = clients.get(id);
  if (registerer.state === RegistererState.Registered) {
    const done = new Promise((resolve) => registerer.stateChange.addListener((s) => s === RegistererState.Unregistered && resolve()));
    await registerer.unregister();
    await done;
  }
  await ua.stop();
  clients.delete(id);
  return registerer.state;
}

/** JsSIP: a UA that registers on start (its default), settled on 'registered' or 'registrationFailed'. */
function jssipRegister({ id, server, aor, password }) {
  const ua = new JsSIP.UA({ sockets: [new JsSIP.WebSocketInterface(server)], uri: aor, password });
  clients.set(id, { kind: 'JsSIP', ua });
  return new Promise((resolve) => {
    const base = () => ({ userAgent: JsSIP.C.USER_AGENT, version: JsSIP.version, instance: ua.configuration.instance_id });
    ua.on('registered', (e) => resolve({ outcome: 'registered', status: e.response.status_code, ...base() }));
    ua.on('registrationFailed', (e) => resolve({ outcome: 'rejected', status: e.response ? e.response.status_code : null, reason: e.cause, ...base() }));
    // A WebSocket that cannot open (a certificate refused, say): JsSIP would retry forever.
    ua.on('disconnected', (e) => resolve({ outcome: 'error', reason: `disconnected (${e.code ?? ''} ${e.reason ?? ''})`, ...base() }));
    ua.start();
  });
}

function jssipUnregister(id) {
  const { ua } = clients.get(id);
  return new Promise((resolve) => {
    if (!ua.isRegistered()) {
      ua.stop();
      clients.delete(id);
      resolve('unregistered');
      return;
    }
    ua.once('unregistered', () => {
      ua.stop();
      clients.delete(id);
      resolve('unregistered');
    });
    ua.unregister();
  });
}

window.psiClients = {
  register: (library, options) => (library === 'sip.js' ? sipjsRegister(options) : jssipRegister(options)),
  unregister: (id) => (clients.get(id).kind === 'sip.js' ? sipjsUnregister(id) : jssipUnregister(id)),
};
