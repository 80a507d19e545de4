// Reading the YAML of a web config file field by field: every value is checked
// for its type, and every error names the file, the line and the dotted field
// (tls_server_config.key_file), so a bad file is fixed in one look.
import { dirname, resolve } from 'node:path';
import { LineCounter, type Node as YamlNode, type Pair, isMap, isScalar, isSeq, parseDocument } from 'yaml';

export class WebConfigError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    readonly reason: string,
    readonly line?: number,
  ) {
    super(`web config file ${file}${line !== undefined ? `:${line}` : ''}: ${field ? `${field}: ` : ''}${reason}`);
    this.name = 'WebConfigError';
  }
}

export type Node = YamlNode | null;

/** table[key] when the table itself holds key: never a property every object has (constructor, toString, __proto__). */
export function lookup<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

type Located = { range?: readonly number[] | null } | null | undefined;

/** The parsed document of one file, with typed, located accessors for its values. */
export class Fields {
  /** the document's root node */
  readonly root: unknown;
  private readonly dir: string;

  private constructor(readonly file: string, private readonly lines: LineCounter, root: unknown) {
    this.root = root;
    this.dir = dirname(resolve(file));
  }

  /** Parse YAML 1.2, refusing duplicate keys (a second "a:" would silently win otherwise). */
  static parse(text: string, file: string): Fields {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, version: '1.2' });
    const firstError = doc.errors[0];
    if (firstError) {
      const line = firstError.linePos?.[0]?.line;
      throw new WebConfigError(file, '', `not valid YAML: ${firstError.message.split('\n')[0]}`, line);
    }
    return new Fields(file, lines, doc.contents);
  }

  lineOf(n: Located): number | undefined {
    return n?.range ? this.lines.linePos(n.range[0]!).line : undefined;
  }

  fail(field: string, reason: string, node?: Located): never {
    throw new WebConfigError(this.file, field, reason, this.lineOf(node));
  }

  isNull(n: Node): boolean {
    return n === null || (isScalar(n) && n.value === null);
  }

  /** The pairs of a mapping, each key checked against the allowed names (null: any key). */
  entries(node: unknown, field: string, allowed: readonly string[] | null): Array<[string, Node, Pair]> {
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return [];
    if (!isMap(node)) return this.fail(field, 'must be a mapping', node as YamlNode);
    const out: Array<[string, Node, Pair]> = [];
    for (const pair of node.items) {
      const keyNode = pair.key as Node;
      const key = isScalar(keyNode) ? String(keyNode.value) : this.fail(field, 'keys must be plain strings', keyNode);
      const path = field ? `${field}.${key}` : key;
      if (allowed && !allowed.includes(key)) {
        this.fail(path, `unknown field (${field || 'the top level'} takes ${allowed.join(', ')})`, keyNode);
      }
      out.push([key, (pair.value as Node) ?? null, pair]);
    }
    return out;
  }

  /** A string; numbers and booleans are taken as written (YAML reads `10` as a number). */
  str(n: Node, field: string): string | undefined {
    if (this.isNull(n)) return undefined;
    if (!isScalar(n) || typeof n.value === 'object') return this.fail(field, 'must be a string', n);
    const v = n.value;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return this.fail(field, 'must be a string', n);
  }

  bool(n: Node, field: string): boolean | undefined {
    if (this.isNull(n)) return undefined;
    if (!isScalar(n) || typeof n.value !== 'boolean') return this.fail(field, 'must be true or false', n);
    return n.value;
  }

  int(n: Node, field: string): number | undefined {
    if (this.isNull(n)) return undefined;
    if (!isScalar(n) || typeof n.value !== 'number' || !Number.isInteger(n.value)) return this.fail(field, 'must be an integer', n);
    return n.value;
  }

  /** A list of strings, each with its node (for errors about one item). */
  strList(n: Node, field: string): Array<[string, YamlNode]> | undefined {
    if (this.isNull(n)) return undefined;
    if (!isSeq(n)) return this.fail(field, 'must be a list of strings', n);
    return n.items.map((item, i) => [
      this.str(item as YamlNode, `${field}[${i}]`) ?? this.fail(`${field}[${i}]`, 'must be a string', item as YamlNode),
      item as YamlNode,
    ]);
  }

  /** A path as written, resolved against the file's folder; empty means unset. */
  path(v: string | undefined): string | undefined {
    return v === undefined || v === '' ? undefined : resolve(this.dir, v);
  }
}
