/**
 * Edit distance counting insertions, deletions, substitutions and swaps of two neighbouring
 * letters as 1 each (optimal string alignment): `prot` is one typo away from `port`.
 */
export function editDistance(a: string, b: string): number {
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, column) => column);
  for (let row = 1; row <= a.length; row++) {
    const current = [row];
    for (let column = 1; column <= b.length; column++) {
      const substitution = previous[column - 1] + (a[row - 1] === b[column - 1] ? 0 : 1);
      let best = Math.min(previous[column] + 1, current[column - 1] + 1, substitution);
      const swapped = row > 1 && column > 1 && a[row - 1] === b[column - 2] && a[row - 2] === b[column - 1];
      if (swapped) best = Math.min(best, beforePrevious[column - 2] + 1);
      current.push(best);
    }
    beforePrevious = previous;
    previous = current;
  }
  return previous[b.length];
}

/**
 * The candidate the person most likely meant when typing `typed`, or undefined when none is close.
 * Case is ignored (`tlsport` → `tlsPort`); a typo costs at most a third of the word; a candidate
 * containing the typed word (or the reverse, from 4 letters on) counts too (`password` → `icpPassword`).
 */
export function closestMatch(typed: string, candidates: readonly string[]): string | undefined {
  const wanted = typed.toLowerCase();
  const allowed = Math.max(1, Math.floor(wanted.length / 3));
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(wanted, candidate.toLowerCase());
    if (distance <= allowed && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  if (best) return best.candidate;
  if (wanted.length < 4) return undefined;
  return candidates.find((candidate) => {
    const lower = candidate.toLowerCase();
    return lower.includes(wanted) || (lower.length >= 4 && wanted.includes(lower));
  });
}

/** "a", "a or b", "a, b or c": how a short list of choices reads in a sentence. */
export function listInWords(items: readonly string[], last = 'or'): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} ${last} ${items[items.length - 1]}`;
}
