// basic_auth_users: bcrypt hashes checked at load, and checking a request's
// credentials against them. bcrypt is slow by design (tens of milliseconds a
// check), so verdicts are cached, concurrent checks of one credential share a
// run, runs are serialised, and unknown users cost as much as known ones.
import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { Fields, Node } from './fields.js';

const BCRYPT_RE = /^\$2[aby]?\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** Check basic_auth_users: user -> bcrypt hash. */
export function parseUsers(f: Fields, value: Node): Map<string, string> {
  const users = new Map<string, string>();
  for (const [user, hv] of f.entries(value, 'basic_auth_users', null)) {
    const field = `basic_auth_users.${user}`;
    const hash = f.str(hv, field) ?? '';
    const m = BCRYPT_RE.exec(hash);
    if (!m) f.fail(field, 'is not a bcrypt hash ($2y$<cost>$<53 characters>; make one with `htpasswd -nBC 10 "" | tr -d \':\\n\'`)', hv);
    const cost = Number(m![1]);
    if (cost < 4 || cost > 31) f.fail(field, `bcrypt cost ${cost} is outside 4..31`, hv);
    users.set(user, hash);
  }
  return users;
}

/** A cost-10 bcrypt hash of a random string: unknown users cost as much as known ones. */
const DECOY_HASH = '$2b$10$jwpirIx2v/dXdD908mQfrespSHZgUk5Q0bWTLHMcdtOpQOuUjqqrS';
const CACHE_SIZE = 100;

export class BasicAuth {
  /** sha256(user, hash, password) -> verdict; never the password itself */
  private readonly cache = new Map<string, boolean>();
  private readonly inflight = new Map<string, Promise<boolean>>();
  /** one bcrypt at a time: each costs tens of milliseconds of CPU */
  private queue: Promise<unknown> = Promise.resolve();
  bcryptRuns = 0;

  constructor(private users: Map<string, string>) {}

  get enabled(): boolean {
    return this.users.size > 0;
  }

  setUsers(users: Map<string, string>): void {
    this.users = users;
    this.cache.clear();
  }

  async check(user: string, password: string): Promise<boolean> {
    const known = this.users.get(user);
    const hash = known ?? DECOY_HASH;
    const key = createHash('sha256').update(user).update('\0').update(hash).update('\0').update(password).digest('base64');
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached && known !== undefined;
    let pending = this.inflight.get(key);
    if (!pending) {
      const run = this.queue.then(() => {
        this.bcryptRuns++;
        return bcrypt.compare(password, hash);
      });
      this.queue = run.catch(() => undefined);
      pending = run.then((ok) => {
        const verdict = ok && known !== undefined;
        if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(key, verdict);
        return verdict;
      }, () => false).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return (await pending) && known !== undefined;
  }
}

/** The user and password of an `Authorization: Basic ...` header, or undefined. */
export function parseBasicAuthorization(header: string | undefined): { user: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
