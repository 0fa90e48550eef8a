/**
 * A test for the User-Agents of SIP scanning and password-guessing tools (the list is
 * `security.scannerUserAgents`, defaulting to config's DEFAULT_SCANNER_USER_AGENTS). Attackers
 * can change the header, so this only stops the lazy ones; the abuse blocker catches the rest.
 * The patterns are lowered once here, not on each request: this runs for every message.
 */
export function scannerUserAgentMatcher(patterns: readonly string[]): (userAgent: string | undefined) => boolean {
  // Empty patterns are left out: they would match every request.
  const lowered = patterns.filter((p) => p.length > 0).map((p) => p.toLowerCase());
  return (userAgent) => {
    if (!userAgent || lowered.length === 0) return false;
    const haystack = userAgent.toLowerCase();
    return lowered.some((pattern) => haystack.includes(pattern));
  };
}

/** Whether `userAgent` contains one of `patterns`, ignoring case; an absent or empty User-Agent is no scanner. */
export function isScannerUserAgent(userAgent: string | undefined, patterns: readonly string[]): boolean {
  return scannerUserAgentMatcher(patterns)(userAgent);
}
