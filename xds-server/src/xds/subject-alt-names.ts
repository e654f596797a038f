// Reads the subject alternative names out of Node's one-string rendering
// (`PeerCertificate.subjectaltname`, e.g. `DNS:a.example, URI:spiffe://td/ns/x/sa/y`).
// Node quotes a value as a JSON string when it holds a comma, quote or other
// unsafe character, so a DNS name such as `a, URI:spiffe://…` cannot pose as a
// second entry: quotes are honoured here, and anything unexpected is an error.

export interface SubjectAltName {
  /** Node's label: DNS, URI, IP Address, email, DirName, othername, Registered ID. */
  type: string;
  value: string;
}

/** A parse result: the value, or why there is none. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export function parseSubjectAltNames(text: string): Parsed<SubjectAltName[]> {
  const names: SubjectAltName[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) return { ok: false, error: `unreadable subject alternative names at "${text.slice(i, i + 40)}"` };
    const type = text.slice(i, colon);
    let value: string;
    i = colon + 1;
    if (text[i] === '"') {
      const end = closingQuote(text, i);
      if (end < 0) return { ok: false, error: `unterminated quoted ${type} subject alternative name` };
      try {
        value = JSON.parse(text.slice(i, end + 1)) as string;
      } catch {
        return { ok: false, error: `bad quoted ${type} subject alternative name` };
      }
      i = end + 1;
    } else {
      const comma = text.indexOf(',', i);
      const end = comma < 0 ? text.length : comma;
      value = text.slice(i, end);
      i = end;
    }
    names.push({ type, value });
    if (i === text.length) break;
    if (!text.startsWith(', ', i)) return { ok: false, error: `unexpected "${text.slice(i, i + 20)}" after the ${type} subject alternative name` };
    i += 2;
  }
  return { ok: true, value: names };
}

/** Index of the quote that closes the JSON string opening at `start`, or -1. */
function closingQuote(text: string, start: number): number {
  for (let j = start + 1; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j;
  }
  return -1;
}
