import { isIP } from 'node:net';
import { CidrError, parseCidr } from '@psi-lab/sip';
import { closestMatch, listInWords } from './suggest.js';

/** One thing wrong with a configuration. */
export interface ConfigProblem {
  /** Dotted path of the option (`pbx.port`, `security.accessList[2].cidr`); '' for the file as a whole. */
  field: string;
  /** What is wrong and how to fix it, without the field name. */
  message: string;
}

/** The problems found so far; every check reports here rather than throwing, so all are shown at once. */
export class ProblemList {
  readonly items: ConfigProblem[] = [];

  /** @param locate dotted paths of the options named `key` anywhere in the schema, for "it belongs under" hints */
  constructor(readonly locate: (key: string) => string[] = () => []) {}

  add(field: string, message: string): void {
    this.items.push({ field, message });
  }

  /** True when the option, or anything inside it, was reported. */
  touches(field: string): boolean {
    return this.items.some((p) => p.field === field || p.field.startsWith(`${field}.`) || p.field.startsWith(`${field}[`));
  }
}

/**
 * Checks one value found at `field`: returns it (possibly normalised) when valid, undefined when it
 * is absent (null or missing both mean "use the default") or invalid (then a problem is added).
 */
export interface Check {
  (value: unknown, field: string, problems: ProblemList): unknown;
  /** A section's options, for unknown-field hints and for listing every option. */
  readonly shape?: Readonly<Record<string, Check>>;
  /** A list's entry check. */
  readonly item?: Check;
  /** An option that no longer exists: its check only says where it went. */
  readonly retired?: boolean;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);
const HOST_NAME = /^(?=.{1,253}$)(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

export function isWildcardAddress(host: string): boolean {
  return WILDCARDS.has(host);
}

/** How a value the person wrote is quoted back to them. */
export function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return 'a section of options';
  return String(value);
}

function absent(value: unknown): value is null | undefined {
  return value === undefined || value === null;
}

export function joinField(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

/** A whole number within [min, max]; `even` for RTP port bases. */
export function wholeNumber(options: { min: number; max: number; even?: boolean; note?: string }): Check {
  const { min, max, even = false, note } = options;
  return (value, field, problems) => {
    if (absent(value)) return undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max && (!even || value % 2 === 0)) return value;
    const wanted = `${even ? 'an even' : 'a'} whole number from ${min} to ${max}${note ? ` (${note})` : ''}`;
    const quoted = typeof value === 'string' && /^\s*[0-9]+\s*$/.test(value) ? ' (write numbers without quotes)' : '';
    problems.add(field, `must be ${wanted}, not ${shown(value)}${quoted}`);
    return undefined;
  };
}

/** A TCP/UDP port; `zeroDisables` when 0 turns the listener off. */
export function port(options: { zeroDisables: boolean }): Check {
  return options.zeroDisables ? wholeNumber({ min: 0, max: 65535, note: '0 disables it' }) : wholeNumber({ min: 1, max: 65535 });
}

/** Non-empty text. Numbers are refused rather than converted: YAML turns 0123 into 123. */
export function text(options: { spaces?: boolean } = {}): Check {
  return (value, field, problems) => {
    if (absent(value)) return undefined;
    if (typeof value === 'number' || typeof value === 'boolean') {
      problems.add(field, `must be text: put it in quotes, e.g. "${String(value)}" (unquoted, YAML reads it as a ${typeof value}${typeof value === 'number' ? ' and drops leading zeros' : ''})`);
      return undefined;
    }
    if (typeof value !== 'string') {
      problems.add(field, `must be text, not ${shown(value)}`);
      return undefined;
    }
    if (value === '') {
      problems.add(field, 'must not be empty (remove the line to use the default)');
      return undefined;
    }
    if (!options.spaces && /\s/.test(value)) {
      problems.add(field, `must not contain spaces, not ${shown(value)}`);
      return undefined;
    }
    return value;
  };
}

/**
 * An IP address or a host name. `advertised` addresses are written into messages for others to
 * reach, so the listen-on-every-interface wildcard makes no sense there.
 */
export function hostOrAddress(options: { advertised?: boolean; wildcardName?: boolean } = {}): Check {
  const asText = text();
  const example = options.advertised ? '127.0.0.1, 203.0.113.10 or gw.example.com' : '127.0.0.1, 0.0.0.0 or gw.example.com';
  return (value, field, problems) => {
    const host = asText(value, field, problems);
    if (typeof host !== 'string') return undefined;
    if (host.startsWith('[') && host.endsWith(']') && isIP(host.slice(1, -1)) === 6) {
      problems.add(field, `write an IPv6 address without brackets: "${host.slice(1, -1)}"`);
      return undefined;
    }
    if (options.advertised && isWildcardAddress(host)) {
      problems.add(field, `must be an address others can reach, not ${shown(host)} (that only means "every interface" for listening)`);
      return undefined;
    }
    if (isIP(host) !== 0) return host;
    const validName = HOST_NAME.test(host) && !/^[0-9.]+$/.test(host) && (options.wildcardName || !host.startsWith('*.'));
    if (!validName) {
      problems.add(field, `must be an IP address or a host name (e.g. ${example}), not ${shown(host)}`);
      return undefined;
    }
    return host;
  };
}

/** One of a fixed set of words; `meanings` explain each choice in the message. */
export function oneOf(choices: readonly string[], meanings: Readonly<Record<string, string>> = {}): Check {
  return (value, field, problems) => {
    if (absent(value)) return undefined;
    if (typeof value === 'string' && choices.includes(value)) return value;
    const described = choices.map((choice) => (meanings[choice] ? `${choice} (${meanings[choice]})` : choice));
    const guess = typeof value === 'string' ? closestMatch(value, choices) : undefined;
    problems.add(field, `must be ${listInWords(described)}, not ${shown(value)}${guess ? ` — did you mean "${guess}"?` : ''}`);
    return undefined;
  };
}

export function bool(): Check {
  return (value, field, problems) => {
    if (absent(value)) return undefined;
    if (typeof value === 'boolean') return value;
    problems.add(field, `must be true or false, not ${shown(value)}`);
    return undefined;
  };
}

/** An absolute https:// URL: what the gateway reads from the pbx are password-equivalent hashes. */
export function httpsUrl(): Check {
  const asText = text();
  return (value, field, problems) => {
    const url = asText(value, field, problems);
    if (typeof url !== 'string') return undefined;
    let protocol: string | undefined;
    try {
      protocol = new URL(url).protocol;
    } catch {
      protocol = undefined;
    }
    if (protocol === 'https:') return url;
    const fix = protocol === 'http:' ? ` (the link carries set credentials: serve the pbx API over TLS and write ${url.replace(/^http:/i, 'https:')})` : '';
    problems.add(field, `must be an https:// URL, e.g. https://127.0.0.1:8070, not ${shown(url)}${fix}`);
    return undefined;
  };
}

/** An option that was moved or removed: present, it is a problem saying what to write instead. */
export function retired(message: string): Check {
  const check = (value: unknown, field: string, problems: ProblemList): unknown => {
    if (!absent(value)) problems.add(field, message);
    return undefined;
  };
  return Object.assign(check, { retired: true });
}

/** The path part of a URL, such as `/sip`. */
export function urlPath(): Check {
  const asText = text();
  return (value, field, problems) => {
    const path = asText(value, field, problems);
    if (typeof path !== 'string') return undefined;
    if (/^\/[^?#]*$/.test(path)) return path;
    problems.add(field, `must be a URL path starting with /, e.g. /sip, not ${shown(path)}`);
    return undefined;
  };
}

/** An address block as `parseCidr` from @psi-lab/sip reads it; its own error says what is wrong. */
export function cidr(): Check {
  const asText = text();
  return (value, field, problems) => {
    const block = asText(value, field, problems);
    if (typeof block !== 'string') return undefined;
    try {
      parseCidr(block);
      return block;
    } catch (error) {
      if (!(error instanceof CidrError)) throw error;
      problems.add(field, error.message);
      return undefined;
    }
  };
}

export interface ListOptions {
  /** How a correct list looks, quoted in messages. */
  example: string;
  nonEmpty?: boolean;
  /** Entries must differ in this key; `suffix` is appended to the entry's field (e.g. `.user`). */
  unique?: { key: (entry: unknown) => string | undefined; suffix?: string };
}

export function listOf(item: Check, options: ListOptions): Check {
  const check = (value: unknown, field: string, problems: ProblemList): unknown => {
    if (absent(value)) return undefined;
    if (!Array.isArray(value)) {
      problems.add(field, `must be a list, e.g. ${options.example}, not ${shown(value)}`);
      return undefined;
    }
    if (options.nonEmpty && value.length === 0) {
      problems.add(field, `must list at least one entry, e.g. ${options.example}`);
      return undefined;
    }
    const entries: unknown[] = [];
    const firstIndexOf = new Map<string, number>();
    value.forEach((raw, index) => {
      const entry = item(raw, `${field}[${index}]`, problems);
      if (entry === undefined) return;
      entries.push(entry);
      const key = options.unique?.key(entry);
      if (key === undefined) return;
      const first = firstIndexOf.get(key);
      if (first === undefined) firstIndexOf.set(key, index);
      else problems.add(`${field}[${index}]${options.unique?.suffix ?? ''}`, `"${key}" is listed twice (also at ${field}[${first}]): remove one`);
    });
    return entries;
  };
  return Object.assign(check, { item });
}

/**
 * A section of named options. Unknown names are problems (with a did-you-mean); `required` names
 * the options with no default, each with what it is.
 */
export function section(shape: Record<string, Check>, required: Readonly<Record<string, string>> = {}): Check {
  const check = (value: unknown, field: string, problems: ProblemList): unknown => {
    if (!absent(value) && (typeof value !== 'object' || Array.isArray(value))) {
      const wanted = field === '' ? 'the file must hold sections of options (sip:, pbx: …)' : 'must be a section of options (indented "name: value" lines)';
      problems.add(field, `${wanted}, not ${shown(value)}`);
      return undefined;
    }
    const given = (value ?? {}) as Record<string, unknown>;
    const result: Record<string, unknown> = {};
    // The options given first, in the file's order (so are the problems), then the missing ones:
    // a missing section may still hold required options.
    const missing = Object.keys(shape).filter((key) => !Object.hasOwn(given, key));
    for (const key of [...Object.keys(given), ...missing]) {
      const at = joinField(field, key);
      if (!Object.hasOwn(shape, key)) {
        problems.add(at, unknownField(key, field, shape, problems));
        continue;
      }
      const checked = shape[key](given[key], at, problems);
      if (checked !== undefined) result[key] = checked;
      else if (required[key] && !problems.touches(at)) problems.add(at, `required: ${required[key]}`);
    }
    return result;
  };
  return Object.assign(check, { shape });
}

function unknownField(key: string, parent: string, shape: Readonly<Record<string, Check>>, problems: ProblemList): string {
  const known = Object.keys(shape);
  const sameName = known.find((name) => name.toLowerCase() === key.toLowerCase());
  if (sameName) return `unknown field "${key}" — did you mean "${sameName}"?`;
  // An option of another section, or one that lost its indentation, is likelier than a typo.
  const homes = problems.locate(key);
  if (homes.length > 0) return `unknown field "${key}" here — did you mean ${listInWords(homes)}? (each option goes in its section, indented under it)`;
  const guess = closestMatch(key, known);
  if (guess) return `unknown field "${key}" — did you mean "${guess}"?`;
  const where = parent === '' ? 'the sections are' : `the options of ${parent} are`;
  return `unknown field "${key}"; ${where} ${listInWords(known, 'and')}`;
}
