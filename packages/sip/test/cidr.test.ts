import { describe, expect, it } from 'vitest';
import { CidrError, cidrContains, formatCidr, parseAddress, parseCidr } from '../src/transport/cidr.js';

describe('cidrContains', () => {
  it('matches IPv4 blocks', () => {
    expect(cidrContains('10.0.0.0/8', '10.255.1.2')).toBe(true);
    expect(cidrContains('10.0.0.0/8', '11.0.0.1')).toBe(false);
    expect(cidrContains('192.168.1.0/24', '192.168.1.255')).toBe(true);
    expect(cidrContains('192.168.1.0/24', '192.168.2.0')).toBe(false);
    expect(cidrContains('172.16.0.0/12', '172.31.255.255')).toBe(true);
    expect(cidrContains('172.16.0.0/12', '172.32.0.0')).toBe(false);
  });

  it('handles the edge prefixes /0, /32, /128', () => {
    expect(cidrContains('0.0.0.0/0', '203.0.113.9')).toBe(true);
    expect(cidrContains('0.0.0.0/0', '::1')).toBe(false);
    expect(cidrContains('127.0.0.1/32', '127.0.0.1')).toBe(true);
    expect(cidrContains('127.0.0.1/32', '127.0.0.2')).toBe(false);
    expect(cidrContains('::/0', '2001:db8::1')).toBe(true);
    expect(cidrContains('::/0', '10.0.0.1')).toBe(false);
    expect(cidrContains('::1/128', '::1')).toBe(true);
    expect(cidrContains('::1/128', '::2')).toBe(false);
    expect(cidrContains('2001:db8::1/128', '2001:0db8:0000:0000:0000:0000:0000:0001')).toBe(true);
  });

  it('matches IPv6 blocks on any bit boundary', () => {
    expect(cidrContains('2001:db8::/32', '2001:db8:ffff::1')).toBe(true);
    expect(cidrContains('2001:db8::/32', '2001:db9::1')).toBe(false);
    expect(cidrContains('fe80::/10', 'febf::1')).toBe(true);
    expect(cidrContains('fe80::/10', 'fec0::1')).toBe(false);
    expect(cidrContains('2001:db8::/33', '2001:db8:7fff::1')).toBe(true);
    expect(cidrContains('2001:db8::/33', '2001:db8:8000::1')).toBe(false);
  });

  it('treats IPv4-mapped IPv6 as IPv4, on either side', () => {
    expect(cidrContains('10.0.0.0/8', '::ffff:10.1.2.3')).toBe(true);
    expect(cidrContains('10.0.0.0/8', '::ffff:a01:203')).toBe(true);
    expect(cidrContains('10.0.0.0/8', '::ffff:11.1.2.3')).toBe(false);
    expect(cidrContains('::ffff:10.0.0.0/104', '10.9.9.9')).toBe(true);
    expect(cidrContains('::ffff:127.0.0.1/128', '127.0.0.1')).toBe(true);
  });

  it('accepts addresses as sockets and headers write them', () => {
    expect(cidrContains('fe80::/10', 'fe80::1%eth0')).toBe(true);
    expect(cidrContains('2001:db8::/32', '[2001:db8::1]')).toBe(true);
  });

  it('contains nothing when the CIDR or the address is not valid', () => {
    expect(cidrContains('10.0.0.0/33', '10.0.0.1')).toBe(false);
    expect(cidrContains('10.0.0.0', '10.0.0.0')).toBe(false);
    expect(cidrContains('10.0.0.0/8', 'not-an-address')).toBe(false);
    expect(cidrContains('10.0.0.0/8', '')).toBe(false);
  });
});

describe('parseCidr and formatCidr', () => {
  it('canonicalizes', () => {
    const canonical = (text: string): string => formatCidr(parseCidr(text));
    expect(canonical('2001:DB8:0:0:0:0:0:0/32')).toBe('2001:db8::/32');
    expect(canonical('2001:db8:0:1:0:0:0:1/128')).toBe('2001:db8:0:1::1/128');
    expect(canonical('1:0:0:1:0:0:0:0/128')).toBe('1:0:0:1::/128');
    expect(canonical('::/0')).toBe('::/0');
    expect(canonical('::ffff:192.0.2.0/120')).toBe('192.0.2.0/24');
    expect(canonical('0.0.0.0/0')).toBe('0.0.0.0/0');
  });

  it('says what is wrong', () => {
    expect(() => parseCidr('10.0.0.0/33')).toThrow(/0 to 32/);
    expect(() => parseCidr('::/129')).toThrow(/0 to 128/);
    expect(() => parseCidr('10.0.0.0')).toThrow(/no prefix length/);
    expect(() => parseCidr('10.0.0.1/8')).toThrow(/did you mean 10\.0\.0\.0\/8/);
    expect(() => parseCidr('10.0.0.256/32')).toThrow(CidrError);
    expect(() => parseCidr('fe80::1%eth0/64')).toThrow(CidrError);
  });

  it('parses addresses to IPv4 when mapped', () => {
    expect(parseAddress('::ffff:1.2.3.4')).toEqual({ family: 4, value: 0x01020304n });
    expect(parseAddress('::1')).toEqual({ family: 6, value: 1n });
    expect(parseAddress('1.2.3')).toBeUndefined();
  });
});
