// What the transport proved about an xDS client: with mTLS, the SPIFFE URI SAN
// of its certificate (Istio's form spiffe://<trust-domain>/ns/<ns>/sa/<sa>).
// Without TLS (loopback development) nothing is proved.
export interface SpiffeIdentity {
  uri: string;
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export type PeerIdentity =
  | { authenticated: false }
  | { authenticated: true; spiffe: SpiffeIdentity };

export const UNAUTHENTICATED: PeerIdentity = Object.freeze({ authenticated: false });
