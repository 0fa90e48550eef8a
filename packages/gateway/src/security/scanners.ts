/**
 * User-Agent fragments of well-known SIP scanning and password-guessing tools. Attackers can
 * change the header, so this only stops the lazy ones; the abuse blocker catches the rest.
 * Offered as a default for `security.scannerUserAgents`.
 */
export const KNOWN_SCANNER_USER_AGENTS: readonly string[] = Object.freeze([
  'friendly-scanner',
  'sipvicious',
  'sipcli',
  'sip-scan',
  'sundayddr',
  'iwar',
  'sivus',
  'vaxsipuseragent',
  'pplsip',
]);

/**
 * Whether `userAgent` contains one of `patterns`, ignoring case. An absent or empty User-Agent
 * is not a scanner, and empty patterns are ignored (they would match every request).
 */
export function isScannerUserAgent(userAgent: string | undefined, patterns: readonly string[]): boolean {
  if (!userAgent) return false;
  const haystack = userAgent.toLowerCase();
  for (const pattern of patterns) {
    if (pattern.length > 0 && haystack.includes(pattern.toLowerCase())) return true;
  }
  return false;
}
