/**
 * `WWW-Authenticate` challenge parsing (RFC 7235 / RFC 6750), as containerd's auth/parse.go does:
 * several challenges per header, case-insensitive schemes, quoted strings with backslash escapes.
 * Bearer is preferred over Basic. Pure.
 */

/** One challenge: scheme (lower-case) and its parameters (lower-case keys). */
export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/** Parses a header value into challenges. Never throws; malformed parts are skipped. */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  let s = header;
  let current: { scheme: string; params: Record<string, string> } | undefined;
  const skipSpace = (): void => {
    s = s.replace(/^[\s,]+/, '');
  };
  skipSpace();
  while (s.length > 0) {
    const word = token.exec(s)?.[0];
    if (word === undefined) {
      s = s.slice(1);
      skipSpace();
      continue;
    }
    const after = s.slice(word.length);
    const eq = /^\s*=\s*/.exec(after);
    if (eq === null || current === undefined) {
      // A token not followed by "=" starts a new challenge.
      if (eq === null) {
        current = { scheme: word.toLowerCase(), params: {} };
        out.push(current);
      }
      s = eq === null ? after : after.slice(eq[0].length).replace(/^("(?:[^"\\]|\\.)*"?|[^\s,]*)/, '');
      skipSpace();
      continue;
    }
    s = after.slice(eq[0].length);
    let value = '';
    if (s.startsWith('"')) {
      let i = 1;
      for (; i < s.length && s[i] !== '"'; i++) {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        value += s[i] ?? '';
      }
      s = s.slice(i + 1);
    } else {
      const v = /^[^\s,]*/.exec(s)?.[0] ?? '';
      value = v;
      s = s.slice(v.length);
    }
    const key = word.toLowerCase();
    if (!(key in current.params)) current.params[key] = value;
    skipSpace();
  }
  return out;
}

/** The challenge to answer: Bearer first, then Basic (containerd's order, without Digest). */
export function preferredChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}
