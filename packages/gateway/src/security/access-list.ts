import { CidrError, parseAddress, parseCidr, type Cidr } from '@psi-lab/sip';
import type { GatewayConfig } from '../config/types.js';

/** One access-list rule as configured: a CIDR block and the list it puts matching sources on. */
export type AccessRule = GatewayConfig['security']['accessList'][number];

/** Which list a source is on. */
export type AccessListName = AccessRule['list'];

interface CompiledRule {
  cidr: Cidr;
  mask: bigint;
  list: AccessListName;
}

const ADDRESS_BITS = { 4: 32, 6: 128 } as const;
/** Addresses whose list is remembered; a flood of spoofed ones just starts the memory over. */
const RECENT_ANSWERS = 4096;

/**
 * The MBG's white/black list of source addresses. Rules are evaluated in their configured order
 * and the first whose CIDR contains the source decides; a source no rule matches is allowed but
 * is not white-listed (so automatic blocking still applies to it).
 *
 * Addresses are taken as sockets report them: IPv4, IPv6 (brackets and zone ids tolerated) and
 * IPv4-mapped IPv6 (`::ffff:192.0.2.7`), which matches IPv4 rules because a dual-stack socket
 * reports IPv4 peers that way.
 */
export class AccessList {
  private readonly rules: CompiledRule[];
  /** Recent answers by address: this runs for every datagram, a flood's included. */
  private readonly recent = new Map<string, AccessListName | null>();

  /**
   * Parses every rule once, so a bad rule fails at start-up rather than on the first packet.
   * @throws CidrError naming the rule's index (0-based, as in the YAML list) and what is wrong.
   */
  constructor(rules: readonly AccessRule[]) {
    this.rules = rules.map((rule, index) => compileRule(rule, index));
  }

  /** Number of rules. */
  get size(): number {
    return this.rules.length;
  }

  /**
   * The list of the first rule containing `address`, or undefined when none does. An address
   * that cannot be parsed matches no rule (it cannot come from a socket).
   */
  classify(address: string): AccessListName | undefined {
    if (this.rules.length === 0) return undefined;
    const known = this.recent.get(address);
    if (known !== undefined) return known ?? undefined;
    const list = this.match(address);
    if (this.recent.size >= RECENT_ANSWERS) this.recent.clear();
    this.recent.set(address, list ?? null);
    return list;
  }

  private match(address: string): AccessListName | undefined {
    const ip = parseAddress(address);
    if (!ip) return undefined;
    for (const rule of this.rules) {
      if (rule.cidr.family === ip.family && (ip.value & rule.mask) === rule.cidr.network) return rule.list;
    }
    return undefined;
  }

  /** False for black-listed sources; white-listed and unlisted sources are allowed. */
  allows(address: string): boolean {
    return this.classify(address) !== 'black';
  }

  /** Whether the source is white-listed: such sources are never blocked automatically. */
  isWhite(address: string): boolean {
    return this.classify(address) === 'white';
  }
}

function compileRule(rule: AccessRule, index: number): CompiledRule {
  // The rules come from YAML: check the shape at run time too, and say which rule is wrong.
  const where = `security.accessList[${index}]`;
  if (rule === null || typeof rule !== 'object') throw new CidrError(`${where}: expected { cidr, list }, got ${JSON.stringify(rule)}`);
  if (rule.list !== 'white' && rule.list !== 'black') {
    throw new CidrError(`${where}: list must be "white" or "black", got ${JSON.stringify(rule.list)}`);
  }
  if (typeof rule.cidr !== 'string') throw new CidrError(`${where}: cidr must be a string such as 10.0.0.0/8, got ${JSON.stringify(rule.cidr)}`);
  let cidr: Cidr;
  try {
    cidr = parseCidr(rule.cidr.trim());
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CidrError(`${where} (${rule.list}): ${reason}`);
  }
  const bits = ADDRESS_BITS[cidr.family];
  const mask = ((1n << BigInt(cidr.prefix)) - 1n) << BigInt(bits - cidr.prefix);
  return { cidr, mask, list: rule.list };
}
