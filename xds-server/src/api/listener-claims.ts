// Which route serves which address and port, so two routes never give one
// proxy two listeners on the same socket. Producer routes (in their parent
// Service's namespace) apply to every proxy; a consumer route applies only to
// its own namespace's proxies, where it replaces the producer route of the
// same parent port (GAMMA). Overlap is by address (a wildcard overlaps its
// whole family) and port.
import { addressesOverlap } from './addresses.js';
import type { FieldProblem } from './field-problem.js';
import type { ListenerClaim } from './resolve-route.js';

/** Listeners across every accepted route: bounds one snapshot's size whatever the routes ask for. */
export const MAX_LISTENERS_TOTAL = 5000;

interface Held extends ListenerClaim {
  owner: string;
}

export class ListenerClaims {
  private readonly byPort = new Map<string, Held[]>();
  private total = 0;

  /** Claims all of a route's listeners or none; the problems say what is in the way. */
  tryClaim(owner: string, claims: readonly ListenerClaim[]): FieldProblem[] {
    if (this.total + claims.length > MAX_LISTENERS_TOTAL) {
      return [{ field: claims[0]?.field ?? 'spec.parentRefs', reason: `accepting this route would make ${this.total + claims.length} listeners; the limit across all routes is ${MAX_LISTENERS_TOTAL}`, code: 'ResourceLimit' }];
    }
    const problems: FieldProblem[] = [];
    for (const claim of claims) {
      const holder = (this.byPort.get(portKey(claim)) ?? []).find((held) => held.owner !== owner && conflicts(held, claim));
      if (holder) problems.push({ field: claim.field, reason: `${claim.protocol} ${formatAddress(claim)} is already served by ${holder.owner}${whereFor(holder, claim)}`, code: 'Conflicted' });
    }
    if (problems.length > 0) return problems;
    for (const claim of claims) {
      const list = this.byPort.get(portKey(claim)) ?? [];
      list.push({ ...claim, owner });
      this.byPort.set(portKey(claim), list);
    }
    this.total += claims.length;
    return [];
  }
}

function portKey(claim: ListenerClaim): string {
  return `${claim.protocol}:${claim.port}`;
}

function formatAddress(claim: ListenerClaim): string {
  return claim.address.family === 6 ? `[${claim.address.text}]:${claim.port}` : `${claim.address.text}:${claim.port}`;
}

/** Whether two listeners would ever be given to one proxy on overlapping sockets. */
function conflicts(a: ListenerClaim, b: ListenerClaim): boolean {
  if (!addressesOverlap(a.address, b.address)) return false;
  const aConsumer = a.consumerNamespace;
  const bConsumer = b.consumerNamespace;
  // Consumer routes of different namespaces never meet on one proxy.
  if (aConsumer !== undefined && bConsumer !== undefined) return aConsumer === bConsumer;
  // A consumer route replaces the producer route of its own parent port there.
  if (aConsumer !== undefined || bConsumer !== undefined) return a.parent !== b.parent;
  return true;
}

function whereFor(holder: ListenerClaim, claim: ListenerClaim): string {
  const ns = holder.consumerNamespace ?? claim.consumerNamespace;
  return ns === undefined ? '' : ` for proxies in namespace ${ns}`;
}
