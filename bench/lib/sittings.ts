// The order two control planes are measured in, sitting by sitting.
//
// A single "A then B" run lets whatever the shared host does meanwhile (a
// noisy neighbour, CPU frequency, page cache) land on one side only. Pairs in
// ABBA order (A B, B A, A B, ...) put each side first as often as second, so
// a drift over the run weighs on both alike.

export type Side = 'mediamesh' | 'peer';

/** `sittings` pairs, alternating which side goes first: A B, B A, A B, ... */
export function sittingOrder(sittings: number): Side[] {
  const order: Side[] = [];
  for (let s = 0; s < sittings; s++) order.push(...(s % 2 === 0 ? ['mediamesh', 'peer'] as const : ['peer', 'mediamesh'] as const));
  return order;
}
