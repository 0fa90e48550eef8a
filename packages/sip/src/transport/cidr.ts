import { isIPv4, isIPv6 } from 'node:net';

/** An address block: the network address (host bits zero) and its prefix length. */
export interface Cidr {
  family: 4 | 6;
  network: bigint;
  prefix: number;
}

export interface IpAddress {
  family: 4 | 6;
  value: bigint;
}

/** Why a text is not a CIDR, worded for the person who typed it. */
export class CidrError extends Error {
  override name = 'CidrError';
}

const BITS = { 4: 32, 6: 128 } as const;

/**
 * Parses an address as it appears on a socket or in a header: IPv4, IPv6 (with or without
 * brackets or a zone id). IPv4-mapped IPv6 (::ffff:10.0.0.1) comes back as IPv4: a dual-stack
 * socket reports IPv4 peers that way, and the allow-list must match them all the same.
 */
export function parseAddress(text: string): IpAddress | undefined {
  let candidate = text.trim();
  if (candidate.startsWith('[') && candidate.endsWith(']')) candidate = candidate.slice(1, -1);
  const zone = candidate.indexOf('%');
  if (zone >= 0) candidate = candidate.slice(0, zone);
  if (isIPv4(candidate)) return { family: 4, value: ipv4ToBigInt(candidate) };
  if (!isIPv6(candidate)) return undefined;
  const value = ipv6ToBigInt(candidate);
  if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
  return { family: 6, value };
}

/** Parses "10.0.0.0/8" or "2001:db8::/32"; throws CidrError saying what is wrong. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  if (slash < 0) throw new CidrError(`"${text}" has no prefix length: write it as address/prefix, e.g. 10.0.0.0/8, or 10.0.0.1/32 for one address`);
  const addressText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (addressText.includes('%') || addressText.includes('[')) throw new CidrError(`"${text}": write the address without brackets or zone id`);
  let family: 4 | 6;
  let value: bigint;
  if (isIPv4(addressText)) {
    family = 4;
    value = ipv4ToBigInt(addressText);
  } else if (isIPv6(addressText)) {
    family = 6;
    value = ipv6ToBigInt(addressText);
  } else {
    throw new CidrError(`"${addressText}" is not an IPv4 or IPv6 address`);
  }
  const bits = BITS[family];
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > bits) {
    throw new CidrError(`prefix length "/${prefixText}" is out of range: an IPv${family} prefix is 0 to ${bits}`);
  }
  let prefix = Number(prefixText);
  // ::ffff:10.0.0.0/104 and 10.0.0.0/8 are the same block; keep one spelling of it.
  if (family === 6 && prefix >= 96 && value >> 32n === 0xffffn) {
    family = 4;
    value &= 0xffffffffn;
    prefix -= 96;
  }
  const hostBits = value & ~mask(family, prefix) & allOnes(family);
  if (hostBits !== 0n) {
    const network = formatCidr({ family, network: value & mask(family, prefix), prefix });
    throw new CidrError(`"${text}" has host bits set after the /${prefix} prefix: did you mean ${network}?`);
  }
  return { family, network: value, prefix };
}

/** The canonical spelling: dotted quad, or RFC 5952 compressed lower-case IPv6. */
export function formatCidr(cidr: Cidr): string {
  const address = cidr.family === 4 ? formatIPv4(cidr.network) : formatIPv6(cidr.network);
  return `${address}/${cidr.prefix}`;
}

// The security layer asks for every source it considers blocking; parsing once is enough.
const parsedCidrs = new Map<string, Cidr | null>();

/**
 * Whether `address` lies inside `cidr` (IPv4 and IPv6; IPv4-mapped IPv6 on either side is
 * treated as IPv4). An unparsable CIDR or address contains nothing: the allow-list must fail
 * closed, never exempt a source by accident.
 */
export function cidrContains(cidr: string, address: string): boolean {
  let block = parsedCidrs.get(cidr);
  if (block === undefined) {
    try {
      block = parseCidr(cidr);
    } catch {
      block = null;
    }
    if (parsedCidrs.size >= 1024) parsedCidrs.clear();
    parsedCidrs.set(cidr, block);
  }
  const ip = parseAddress(address);
  if (!block || !ip || ip.family !== block.family) return false;
  return (ip.value & mask(block.family, block.prefix)) === block.network;
}

function allOnes(family: 4 | 6): bigint {
  return (1n << BigInt(BITS[family])) - 1n;
}

function mask(family: 4 | 6, prefix: number): bigint {
  const bits = BITS[family];
  return ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
}

function ipv4ToBigInt(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

/** Expects text that node:net's isIPv6 accepted (so "::" appears at most once). */
function ipv6ToBigInt(text: string): bigint {
  let groups: number[];
  const toGroups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const v4 = Number(ipv4ToBigInt(piece));
        out.push(Math.floor(v4 / 0x10000), v4 % 0x10000);
      } else {
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const doubleColon = text.indexOf('::');
  if (doubleColon >= 0) {
    const head = toGroups(text.slice(0, doubleColon));
    const tail = toGroups(text.slice(doubleColon + 2));
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    groups = toGroups(text);
  }
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(group), 0n);
}

function formatIPv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

function formatIPv6(value: bigint): string {
  if (value >> 32n === 0xffffn) return `::ffff:${formatIPv4(value & 0xffffffffn)}`;
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) => Number((value >> shift) & 0xffffn));
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length++;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
