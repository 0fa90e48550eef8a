/**
 * sip.js 0.21 answers only MD5 digest challenges, and of several WWW-Authenticate (or
 * Proxy-Authenticate) headers it keeps the LAST one. A gateway that offers SHA-256 as well (RFC
 * 8760) may list it last. This moves the MD5 challenges to the end of their header's lines,
 * before sip.js parses the response, so it answers the one it can. Nothing else is touched.
 */
export function putMd5ChallengeLast(message: string): string {
  if (!/^SIP\/2\.0 40[17] /.test(message)) return message;
  const end = message.indexOf('\r\n\r\n');
  if (end < 0) return message;
  const lines = message.slice(0, end).split('\r\n');
  const isChallenge = (l: string): boolean => /^(www|proxy)-authenticate\s*:/i.test(l);
  const challenges = lines.filter(isChallenge);
  if (challenges.length < 2) return message;
  // No algorithm parameter means MD5 (RFC 2617).
  const md5 = (l: string): boolean => (/algorithm\s*=\s*"?([\w-]+)/i.exec(l)?.[1] ?? 'MD5').toUpperCase() === 'MD5';
  const ordered = [...challenges.filter((l) => !md5(l)), ...challenges.filter(md5)];
  let i = 0;
  const rewritten = lines.map((l) => (isChallenge(l) ? ordered[i++] : l));
  return rewritten.join('\r\n') + message.slice(end);
}
