/** Small wording helpers for messages people read. */

/** `1 transaction`, `2 transactions`, `1,000 accounts`; `plural` defaults to noun + "s". */
export function countOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? noun : plural}`;
}
