/** Each beacon starts on a different endpoint, spreading load; the rest are its failover order. */
export function rotate<T>(list: readonly T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}
