// The RegularExpression path syntax the RTSP filter runs (RE2's, restricted
// to what envoy-filters/wasm/path_regex.h implements in linear time), checked
// at admission so an RtspRoute the filter would refuse is refused here, on
// its field, instead of reaching Envoy as a NACK. Keep the two in step.
const MAX_REPEAT = 1000;
const MAX_NESTING = 64;

/** Why the filter cannot run this pattern, or undefined if it can. */
export function rtspPathRegexProblem(pattern: string): string | undefined {
  let pos = 0;
  let depth = 0;
  const at = () => ` at offset ${pos}`;
  const hex = (c: string | undefined) => c !== undefined && /^[0-9a-fA-F]$/.test(c);

  // One escape after a backslash at pos; returns a problem or undefined.
  const escape = (inClass: boolean): string | undefined => {
    pos++;
    const c = pattern[pos];
    if (c === undefined) return `trailing backslash${at()}`;
    pos++;
    if ('dDwWsStnrfva'.includes(c)) return undefined;
    if (c === 'x') {
      if (!hex(pattern[pos]) || !hex(pattern[pos + 1])) return `\\x needs two hex digits (\\x{...} is not supported)${at()}`;
      pos += 2;
      return undefined;
    }
    if (c === 'A' || c === 'z') return inClass ? `\\A and \\z are not allowed in a class${at()}` : undefined;
    if (/[0-9A-Za-z]/.test(c)) return `unsupported escape \\${c} (\\b, \\p, backreferences and the like are not supported)${at()}`;
    return undefined;
  };

  const klass = (): string | undefined => {
    pos++;
    if (pattern[pos] === '^') pos++;
    let first = true;
    for (;;) {
      const c = pattern[pos];
      if (c === undefined) return `missing ']'${at()}`;
      if (c === ']' && !first) {
        pos++;
        return undefined;
      }
      first = false;
      if (c === '[' && pattern[pos + 1] === ':') return `POSIX classes like [:alpha:] are not supported${at()}`;
      let low: string | undefined;
      if (c === '\\') {
        const before = pos;
        const bad = escape(true);
        if (bad) return bad;
        low = 'dDwWsS'.includes(pattern[before + 1]!) ? undefined : pattern.slice(before, pos);
        if (low === undefined) continue;
      } else {
        low = c;
        pos++;
      }
      if (pattern[pos] === '-' && pattern[pos + 1] !== undefined && pattern[pos + 1] !== ']') {
        pos++;
        if (pattern[pos] === '\\') {
          if ('dDwWsS'.includes(pattern[pos + 1] ?? '')) return `a class escape cannot end a range${at()}`;
          const bad = escape(true);
          if (bad) return bad;
        } else {
          pos++;
        }
      }
    }
  };

  const brace = (): { min: number; max: number } | undefined => {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(pos));
    if (!m) return undefined;
    pos += m[0].length;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    return { min, max };
  };

  const alternation = (): string | undefined => {
    if (++depth > MAX_NESTING) return 'groups nest too deeply';
    for (;;) {
      // One branch: repetitions until | or ) or the end.
      while (pos < pattern.length && pattern[pos] !== '|' && pattern[pos] !== ')') {
        const c = pattern[pos]!;
        let repeatable = true;
        if (c === '(') {
          pos++;
          if (pattern[pos] === '?') {
            if (pattern[pos + 1] !== ':') return `only (?:...) groups are supported (no flags, named groups or lookaround)${at()}`;
            pos += 2;
          }
          const bad = alternation();
          if (bad) return bad;
          if (pattern[pos] !== ')') return `missing ')'${at()}`;
          pos++;
        } else if (c === '[') {
          const bad = klass();
          if (bad) return bad;
        } else if (c === '\\') {
          const assertion = pattern[pos + 1] === 'A' || pattern[pos + 1] === 'z';
          const bad = escape(false);
          if (bad) return bad;
          repeatable = !assertion;
        } else if (c === '*' || c === '+' || c === '?') {
          return `missing argument to repetition operator${at()}`;
        } else {
          repeatable = c !== '^' && c !== '$';
          pos++;
        }
        let repeated = false;
        for (;;) {
          const q = pattern[pos];
          let bounds: { min: number; max: number } | undefined;
          if (q === '*' || q === '+' || q === '?') {
            pos++;
          } else if (q === '{' && (bounds = brace())) {
            if (bounds.min > MAX_REPEAT || (bounds.max !== Infinity && bounds.max > MAX_REPEAT)) return `repetition count above ${MAX_REPEAT}${at()}`;
            if (bounds.max < bounds.min) return `repetition {n,m} with m below n${at()}`;
          } else {
            break;
          }
          if (repeated) return `a repetition operator applied to a repetition${at()}`;
          if (!repeatable) return `missing argument to repetition operator${at()}`;
          repeated = true;
          if (pattern[pos] === '?') pos++;
        }
      }
      if (pattern[pos] !== '|') break;
      pos++;
    }
    depth--;
    return undefined;
  };

  const bad = alternation();
  if (bad) return bad;
  if (pos !== pattern.length) return `unmatched ')'${at()}`;
  return undefined;
}
