import type { MbgEntry, NewSubscriber } from '../store/types.js';

export const USAGE = `usage: psi-pbx [--api URL] [--token TOKEN] [--json] <command>

  subscriber add --extension EXT --name NAME --email EMAIL --password PASSWORD [--role ROLE] [--dnd-allowed on|off]
  subscriber list
  subscriber show EXT
  subscriber set EXT [--name NAME] [--email EMAIL] [--password PASSWORD] [--role ROLE | --no-role]
                     [--dnd on|off] [--dnd-allowed on|off] [--no-forward]
                     [--forward-all EXT|off] [--forward-busy EXT|off] [--forward-noanswer EXT|off] [--delay SECONDS]
  subscriber remove EXT
  role list
  role set NAME [--zoom-psi | --no-zoom-psi] [--description TEXT]   (what is left out is kept)
  role remove NAME
  mbg show
  mbg set [--address ADDRESS] [--fqdn PUBLIC_FQDN] [--account ACCOUNT] [--secret SHARED_SECRET]
  mbg clear
  allow-list list
  allow-list add CIDR [--comment TEXT]
  allow-list remove ID
  site-network list                   (on-site phones that may reach the pbx without the MBG)
  site-network add CIDR [--comment TEXT]
  site-network remove ID
  blocks list
  blocks lift ADDRESS

  --api URL      the pbx management API (default $PSI_PBX_API or https://127.0.0.2:8070, the lab's)
  --token TOKEN  its bearer token (default $PSI_PBX_TOKEN)
                 An https API's certificate is checked against the system's CAs and
                 $NODE_EXTRA_CA_CERTS (the lab's: NODE_EXTRA_CA_CERTS=.lab/certs/ca.pem)
  --json         machine-readable output: the API's JSON
`;

export const DEFAULT_API = 'https://127.0.0.2:8070';

/** Bad command line: reported with the usage text and exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A forwarding kind's new target, or null to remove that forwarding. */
export type ForwardChange = string | null;

export interface SubscriberChanges {
  name?: string;
  email?: string;
  password?: string;
  /** null: no role. */
  role?: string | null;
  dndAllowed?: boolean;
  dndActive?: boolean;
  clearForwardings: boolean;
  forward: { all?: ForwardChange; busy?: ForwardChange; noAnswer?: ForwardChange };
  delaySeconds?: number;
}

export type Command =
  | { kind: 'help' }
  | { kind: 'subscriber add'; subscriber: NewSubscriber }
  | { kind: 'subscriber list' }
  | { kind: 'subscriber show'; extension: string }
  | { kind: 'subscriber set'; extension: string; changes: SubscriberChanges }
  | { kind: 'subscriber remove'; extension: string }
  | { kind: 'role list' }
  | { kind: 'role set'; name: string; zoomPsi?: boolean; description?: string }
  | { kind: 'role remove'; name: string }
  | { kind: 'mbg show' }
  | { kind: 'mbg set'; fields: Partial<MbgEntry> }
  | { kind: 'mbg clear' }
  | { kind: 'allow-list list' }
  | { kind: 'allow-list add'; cidr: string; comment: string }
  | { kind: 'allow-list remove'; id: string }
  | { kind: 'site-network list' }
  | { kind: 'site-network add'; cidr: string; comment: string }
  | { kind: 'site-network remove'; id: string }
  | { kind: 'blocks list' }
  | { kind: 'blocks lift'; address: string };

export interface Invocation {
  command: Command;
  api: string;
  /** Absent when neither --token nor PSI_PBX_TOKEN gives one. */
  token: string | undefined;
  json: boolean;
}

type OptionKind = 'value' | 'flag';

interface CommandSpec {
  positionals: string[];
  options: Record<string, OptionKind>;
}

const GLOBAL_OPTIONS: Record<string, OptionKind> = { api: 'value', token: 'value', json: 'flag', help: 'flag' };

const SPECS: Record<string, CommandSpec> = {
  'subscriber add': { positionals: [], options: { extension: 'value', name: 'value', email: 'value', password: 'value', role: 'value', 'dnd-allowed': 'value' } },
  'subscriber list': { positionals: [], options: {} },
  'subscriber show': { positionals: ['EXT'], options: {} },
  'subscriber set': {
    positionals: ['EXT'],
    options: {
      name: 'value', email: 'value', password: 'value', role: 'value', 'no-role': 'flag', dnd: 'value', 'dnd-allowed': 'value',
      'no-forward': 'flag', 'forward-all': 'value', 'forward-busy': 'value', 'forward-noanswer': 'value', delay: 'value',
    },
  },
  'subscriber remove': { positionals: ['EXT'], options: {} },
  'role list': { positionals: [], options: {} },
  'role set': { positionals: ['NAME'], options: { 'zoom-psi': 'flag', 'no-zoom-psi': 'flag', description: 'value' } },
  'role remove': { positionals: ['NAME'], options: {} },
  'mbg show': { positionals: [], options: {} },
  'mbg set': { positionals: [], options: { address: 'value', fqdn: 'value', account: 'value', secret: 'value' } },
  'mbg clear': { positionals: [], options: {} },
  'allow-list list': { positionals: [], options: {} },
  'allow-list add': { positionals: ['CIDR'], options: { comment: 'value' } },
  'allow-list remove': { positionals: ['ID'], options: {} },
  'site-network list': { positionals: [], options: {} },
  'site-network add': { positionals: ['CIDR'], options: { comment: 'value' } },
  'site-network remove': { positionals: ['ID'], options: {} },
  'blocks list': { positionals: [], options: {} },
  'blocks lift': { positionals: ['ADDRESS'], options: {} },
};

const GROUPS = [...new Set(Object.keys(SPECS).map((name) => name.split(' ')[0]))];

// No option is a flag for one command and takes a value for another, so argv can be split
// into words and options before the command is known; options may then sit anywhere.
const OPTION_KINDS: Record<string, OptionKind> = Object.assign({}, GLOBAL_OPTIONS, ...Object.values(SPECS).map((spec) => spec.options));

interface Tokens {
  words: string[];
  options: Map<string, string | true>;
}

/** Splits argv into words and options: --name value, --name=value, --flag, -h, and -- to end options. */
function tokenize(argv: string[]): Tokens {
  const words: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h') {
      options.set('help', true);
      continue;
    }
    if (!arg.startsWith('--')) {
      words.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const name = equals < 0 ? arg.slice(2) : arg.slice(2, equals);
    const kind = OPTION_KINDS[name];
    if (!kind) throw new UsageError(`unknown option --${name}`);
    if (options.has(name)) throw new UsageError(`--${name} is given twice`);
    if (kind === 'flag') {
      if (equals >= 0) throw new UsageError(`--${name} takes no value`);
      options.set(name, true);
    } else if (equals >= 0) {
      options.set(name, arg.slice(equals + 1));
    } else {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      options.set(name, value);
      i++;
    }
  }
  return { words, options };
}

/** Parses psi-pbx's arguments (without "node script"); throws UsageError. */
export function parseArguments(argv: string[], env: Record<string, string | undefined> = {}): Invocation {
  const { words, options } = tokenize(argv);
  if (options.has('help') || words.length === 0 || words[0] === 'help') return invocation({ kind: 'help' }, options, env);
  const commandName = words.slice(0, 2).join(' ');
  const spec = SPECS[commandName];
  if (!spec) {
    if (!GROUPS.includes(words[0])) throw new UsageError(`unknown command "${words[0]}"`);
    throw new UsageError(words.length < 2 ? `"${words[0]}" needs a sub-command` : `unknown command "${commandName}"`);
  }
  for (const name of options.keys()) {
    if (!(name in GLOBAL_OPTIONS) && !(name in spec.options)) throw new UsageError(`"${commandName}" has no option --${name}`);
  }
  const positionals = words.slice(2);
  if (positionals.length !== spec.positionals.length) {
    const expected = spec.positionals.length === 0 ? 'no arguments' : spec.positionals.join(' ');
    const got = positionals.length === 0 ? 'none' : positionals.map((p) => `"${p}"`).join(' ');
    throw new UsageError(`"${commandName}" takes ${expected}, got ${got}`);
  }
  return invocation(buildCommand(commandName, positionals, options), options, env);
}

function invocation(command: Command, values: Map<string, string | true>, env: Record<string, string | undefined>): Invocation {
  const text = (name: string): string | undefined => {
    const value = values.get(name);
    return typeof value === 'string' ? value : undefined;
  };
  return {
    command,
    api: text('api') ?? env.PSI_PBX_API ?? DEFAULT_API,
    token: text('token') ?? (env.PSI_PBX_TOKEN || undefined),
    json: values.get('json') === true,
  };
}

function onOff(value: string, option: string): boolean {
  if (value === 'on') return true;
  if (value === 'off') return false;
  throw new UsageError(`--${option} takes on or off, not "${value}"`);
}

function buildCommand(name: string, positionals: string[], values: Map<string, string | true>): Command {
  const text = (option: string): string | undefined => {
    const value = values.get(option);
    return typeof value === 'string' ? value : undefined;
  };
  const required = (option: string): string => {
    const value = text(option);
    if (value === undefined) throw new UsageError(`"${name}" needs --${option}`);
    return value;
  };
  const flag = (option: string): boolean => values.get(option) === true;
  const [first] = positionals;
  switch (name) {
    case 'subscriber add': {
      const dndAllowed = text('dnd-allowed');
      return {
        kind: name,
        subscriber: {
          extension: required('extension'), name: required('name'), email: required('email'), password: required('password'),
          ...(text('role') !== undefined ? { role: text('role') } : {}),
          ...(dndAllowed !== undefined ? { dndAllowed: onOff(dndAllowed, 'dnd-allowed') } : {}),
        },
      };
    }
    case 'subscriber set':
      return { kind: name, extension: first, changes: subscriberChanges(text, flag) };
    case 'subscriber list': case 'role list': case 'mbg show': case 'mbg clear': case 'allow-list list': case 'site-network list': case 'blocks list':
      return { kind: name };
    case 'subscriber show': case 'subscriber remove':
      return { kind: name, extension: first };
    case 'role set': {
      if (flag('zoom-psi') && flag('no-zoom-psi')) throw new UsageError('--zoom-psi and --no-zoom-psi contradict each other');
      const zoomPsi = flag('zoom-psi') ? true : flag('no-zoom-psi') ? false : undefined;
      return {
        kind: name, name: first,
        ...(zoomPsi !== undefined ? { zoomPsi } : {}),
        ...(text('description') !== undefined ? { description: text('description') } : {}),
      };
    }
    case 'role remove':
      return { kind: name, name: first };
    case 'mbg set': {
      const fields: Partial<MbgEntry> = {};
      if (text('address') !== undefined) fields.address = text('address');
      if (text('fqdn') !== undefined) fields.publicFqdn = text('fqdn');
      if (text('account') !== undefined) fields.account = text('account');
      if (text('secret') !== undefined) fields.sharedSecret = text('secret');
      if (Object.keys(fields).length === 0) throw new UsageError('"mbg set" needs at least one of --address, --fqdn, --account, --secret');
      return { kind: name, fields };
    }
    case 'allow-list add': case 'site-network add':
      return { kind: name, cidr: first, comment: text('comment') ?? '' };
    case 'allow-list remove': case 'site-network remove':
      return { kind: name, id: first };
    case 'blocks lift':
      return { kind: name, address: first };
    default:
      throw new UsageError(`unknown command "${name}"`);
  }
}

function subscriberChanges(text: (option: string) => string | undefined, flag: (option: string) => boolean): SubscriberChanges {
  const changes: SubscriberChanges = { clearForwardings: flag('no-forward'), forward: {} };
  const name = text('name');
  const email = text('email');
  const password = text('password');
  if (name !== undefined) changes.name = name;
  if (email !== undefined) changes.email = email;
  if (password !== undefined) changes.password = password;
  const role = text('role');
  if (role !== undefined && flag('no-role')) throw new UsageError('--role and --no-role contradict each other');
  if (role !== undefined) changes.role = role;
  if (flag('no-role')) changes.role = null;
  const dnd = text('dnd');
  if (dnd !== undefined) changes.dndActive = onOff(dnd, 'dnd');
  const dndAllowed = text('dnd-allowed');
  if (dndAllowed !== undefined) changes.dndAllowed = onOff(dndAllowed, 'dnd-allowed');
  const forwardOptions = [['forward-all', 'all'], ['forward-busy', 'busy'], ['forward-noanswer', 'noAnswer']] as const;
  for (const [option, kind] of forwardOptions) {
    const target = text(option);
    if (target !== undefined) changes.forward[kind] = target === 'off' ? null : target;
  }
  const delay = text('delay');
  if (delay !== undefined) {
    if (!/^[0-9]+$/.test(delay)) throw new UsageError(`--delay takes a whole number of seconds, not "${delay}"`);
    changes.delaySeconds = Number(delay);
  }
  const { clearForwardings, forward, ...rest } = changes;
  if (!clearForwardings && Object.keys(forward).length === 0 && Object.keys(rest).length === 0) {
    throw new UsageError('"subscriber set" needs something to change (e.g. --dnd on, --forward-all 1002)');
  }
  return changes;
}
