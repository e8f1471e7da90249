/**
 * `WWW-Authenticate` parsing (RFC 9110 section 11.6.1):
 *   challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 * A header may hold several challenges separated by commas (and Headers.get
 * joins repeated headers with ", "), e.g.
 *   Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull,push"
 */

export interface Challenge {
  /** The scheme, lower case: `bearer`, `basic`, … */
  scheme: string;
  /** Parameter names in lower case. */
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text[this.pos] ?? '';
  }

  skipSpace(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }

  token(): string {
    const start = this.pos;
    while (!this.done && TOKEN_CHAR.test(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }

  quoted(): string {
    // at the opening quote
    this.pos++;
    let out = '';
    while (!this.done) {
      const c = this.peek();
      this.pos++;
      if (c === '"') return out;
      if (c === '\\' && !this.done) {
        out += this.peek();
        this.pos++;
      } else {
        out += c;
      }
    }
    return out;
  }
}

/** Parses every challenge in a `WWW-Authenticate` value. Never throws; junk is skipped. */
export function parseChallenges(header: string | null | undefined): Challenge[] {
  if (!header) return [];
  const s = new Scanner(header);
  const challenges: Challenge[] = [];
  let current: Challenge | undefined;
  while (!s.done) {
    s.skipSpace();
    if (s.peek() === ',') {
      s.pos++;
      continue;
    }
    const name = s.token();
    if (name === '') {
      s.pos++; // junk: skip one character
      continue;
    }
    s.skipSpace();
    if (s.peek() === '=' && current !== undefined) {
      // auth-param of the current challenge
      s.pos++;
      s.skipSpace();
      const value = s.peek() === '"' ? s.quoted() : s.token();
      current.params[name.toLowerCase()] = value;
      continue;
    }
    // A new challenge. (token68 forms such as `Negotiate abc==` are not used by
    // registries; their text is read as parameters or further schemes.)
    current = { scheme: name.toLowerCase(), params: {} };
    challenges.push(current);
  }
  return challenges;
}
