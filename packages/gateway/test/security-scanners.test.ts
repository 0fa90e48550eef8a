import { describe, expect, it } from 'vitest';
import { DEFAULT_SCANNER_USER_AGENTS as KNOWN_SCANNER_USER_AGENTS } from '../src/config/index.js';
import { isScannerUserAgent } from '../src/security/index.js';

describe('isScannerUserAgent', () => {
  const patterns = ['friendly-scanner', 'SIPVicious'];

  it('finds a pattern anywhere in the User-Agent, ignoring case on both sides', () => {
    expect(isScannerUserAgent('friendly-scanner', patterns)).toBe(true);
    expect(isScannerUserAgent('Friendly-Scanner/1.0', patterns)).toBe(true);
    expect(isScannerUserAgent('svwar sipvicious 0.3.4', patterns)).toBe(true);
  });

  it('lets ordinary sets through', () => {
    expect(isScannerUserAgent('Mitel 6867i/6.3.0', patterns)).toBe(false);
    expect(isScannerUserAgent('friendly scanner', patterns)).toBe(false);
  });

  it('treats an absent or empty User-Agent as no scanner', () => {
    expect(isScannerUserAgent(undefined, patterns)).toBe(false);
    expect(isScannerUserAgent('', patterns)).toBe(false);
  });

  it('ignores empty patterns instead of matching everything', () => {
    expect(isScannerUserAgent('Mitel 6867i', ['', 'sipcli'])).toBe(false);
    expect(isScannerUserAgent('anything', [])).toBe(false);
  });

  it('ships a default list that catches the common tools and not a SIPp load test', () => {
    expect(isScannerUserAgent('friendly-scanner', KNOWN_SCANNER_USER_AGENTS)).toBe(true);
    expect(isScannerUserAgent('sipcli/v1.8', KNOWN_SCANNER_USER_AGENTS)).toBe(true);
    expect(isScannerUserAgent('SIPp/3.7', KNOWN_SCANNER_USER_AGENTS)).toBe(false);
  });
});
