import { describe, expect, it } from 'vitest';
import { CidrError } from '@psi-lab/sip';
import { AccessList, type AccessRule } from '../src/security/index.js';

describe('AccessList', () => {
  it('lets the first matching rule decide, so the order of white and black matters', () => {
    const whiteFirst = new AccessList([
      { cidr: '10.1.0.0/16', list: 'white' },
      { cidr: '10.0.0.0/8', list: 'black' },
    ]);
    const blackFirst = new AccessList([
      { cidr: '10.0.0.0/8', list: 'black' },
      { cidr: '10.1.0.0/16', list: 'white' },
    ]);

    expect(whiteFirst.classify('10.1.2.3')).toBe('white');
    expect(whiteFirst.allows('10.1.2.3')).toBe(true);
    expect(whiteFirst.isWhite('10.1.2.3')).toBe(true);
    expect(blackFirst.classify('10.1.2.3')).toBe('black');
    expect(blackFirst.allows('10.1.2.3')).toBe(false);
    expect(blackFirst.isWhite('10.1.2.3')).toBe(false);

    // Outside the narrower block both lists agree.
    expect(whiteFirst.classify('10.2.0.1')).toBe('black');
    expect(blackFirst.classify('10.2.0.1')).toBe('black');
  });

  it('allows a source no rule matches without white-listing it', () => {
    const list = new AccessList([{ cidr: '203.0.113.0/24', list: 'black' }]);
    expect(list.classify('198.51.100.9')).toBeUndefined();
    expect(list.allows('198.51.100.9')).toBe(true);
    expect(list.isWhite('198.51.100.9')).toBe(false);
    expect(list.allows('203.0.113.77')).toBe(false);
  });

  it('allows everything and white-lists nothing when empty', () => {
    const list = new AccessList([]);
    expect(list.size).toBe(0);
    expect(list.allows('127.0.0.1')).toBe(true);
    expect(list.isWhite('127.0.0.1')).toBe(false);
  });

  it('respects prefix boundaries', () => {
    const list = new AccessList([{ cidr: '192.168.10.0/23', list: 'black' }]);
    expect(list.allows('192.168.9.255')).toBe(true);
    expect(list.allows('192.168.10.0')).toBe(false);
    expect(list.allows('192.168.11.255')).toBe(false);
    expect(list.allows('192.168.12.0')).toBe(true);
  });

  it('matches /0 against every address of its family only', () => {
    const list = new AccessList([{ cidr: '0.0.0.0/0', list: 'black' }]);
    expect(list.allows('8.8.8.8')).toBe(false);
    expect(list.allows('2001:db8::1')).toBe(true);
  });

  it('matches IPv6 sources, with brackets and zone ids as sockets and headers give them', () => {
    const list = new AccessList([
      { cidr: '2001:db8:1::/48', list: 'white' },
      { cidr: '2001:db8::/32', list: 'black' },
      { cidr: 'fe80::/10', list: 'black' },
    ]);
    expect(list.classify('2001:db8:1::42')).toBe('white');
    expect(list.classify('2001:DB8:1:0:0:0:0:42')).toBe('white');
    expect(list.classify('[2001:db8:2::1]')).toBe('black');
    expect(list.classify('fe80::1%eth0')).toBe('black');
    expect(list.classify('2001:db9::1')).toBeUndefined();
    // An IPv6 rule never matches an IPv4 source.
    expect(list.classify('32.1.13.184')).toBeUndefined();
  });

  it('matches IPv4-mapped IPv6 sources (dual-stack sockets) against IPv4 rules, and mapped rules against IPv4', () => {
    const list = new AccessList([
      { cidr: '198.51.100.0/24', list: 'black' },
      { cidr: '::ffff:203.0.113.0/120', list: 'white' },
    ]);
    expect(list.classify('::ffff:198.51.100.20')).toBe('black');
    expect(list.classify('::FFFF:198.51.100.20')).toBe('black');
    expect(list.classify('203.0.113.5')).toBe('white');
    expect(list.classify('::ffff:203.0.113.5')).toBe('white');
    expect(list.classify('::ffff:203.0.114.5')).toBeUndefined();
  });

  it('matches nothing for an address that does not parse', () => {
    const list = new AccessList([{ cidr: '0.0.0.0/0', list: 'white' }]);
    expect(list.classify('not-an-address')).toBeUndefined();
    expect(list.isWhite('')).toBe(false);
  });

  it('rejects a bad CIDR at construction, naming the rule index', () => {
    const rules: AccessRule[] = [
      { cidr: '10.0.0.0/8', list: 'white' },
      { cidr: '192.0.2.0/24', list: 'black' },
      { cidr: '10.0.0.1/8', list: 'black' },
    ];
    expect(() => new AccessList(rules)).toThrow(CidrError);
    expect(() => new AccessList(rules)).toThrow(/accessList\[2\].*host bits/);

    expect(() => new AccessList([{ cidr: '10.0.0.0', list: 'black' }])).toThrow(/accessList\[0\].*prefix/);
    expect(() => new AccessList([{ cidr: '10.0.0.0/8', list: 'white' }, { cidr: 'nonsense/8', list: 'white' }])).toThrow(
      /accessList\[1\].*not an IPv4 or IPv6 address/,
    );
    expect(() => new AccessList([{ cidr: '2001:db8::/129', list: 'black' }])).toThrow(/accessList\[0\].*out of range/);
  });

  it('rejects a rule with an unknown list or a missing cidr, naming the rule index', () => {
    const unknownList = [{ cidr: '10.0.0.0/8', list: 'grey' }] as unknown as AccessRule[];
    expect(() => new AccessList(unknownList)).toThrow(/accessList\[0\].*"white" or "black".*grey/);
    const missingCidr = [{ cidr: '10.0.0.0/8', list: 'white' }, { list: 'black' }] as unknown as AccessRule[];
    expect(() => new AccessList(missingCidr)).toThrow(/accessList\[1\].*cidr must be a string/);
  });
});
