/**
 * Source addresses (address:port) that proved who they are with digest recently. A set that
 * authenticated its REGISTER or INVITE need not answer a challenge for every BYE or re-INVITE
 * of its dialogs; any other source must.
 */
export class AuthenticatedSources {
  private readonly until = new Map<string, number>();

  constructor(private readonly ttlMs = 3600_000, private readonly now: () => number = Date.now, private readonly max = 200_000) {}

  remember(source: string): void {
    if (this.until.size >= this.max) this.prune();
    this.until.set(source, this.now() + this.ttlMs);
  }

  has(source: string): boolean {
    const until = this.until.get(source);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.until.delete(source);
    return false;
  }

  private prune(): void {
    const t = this.now();
    for (const [source, until] of this.until) if (until <= t) this.until.delete(source);
    // Still full: forget the oldest half rather than grow without bound.
    if (this.until.size >= this.max) [...this.until.keys()].slice(0, this.max / 2).forEach((k) => this.until.delete(k));
  }
}
