/**
 * Just enough of vitest's API (describe/it with .each, beforeAll/afterAll, and the expect matchers the op and
 * kernel suites use) to run those same test files inside a browser page. The bundler maps `vitest` to this
 * file; `runCollected` then runs the collected tests whose full title matches a filter, in order.
 */
type Fn = () => unknown;
interface Suite {
  title: string;
  tests: Array<{ title: string; fn: Fn }>;
  before: Fn[];
  after: Fn[];
  children: Suite[];
}

const root: Suite = { title: '', tests: [], before: [], after: [], children: [] };
let current = root;

/** printf-style titles as vitest formats them: %s, %i, %d. */
function format(title: string, args: readonly unknown[]): string {
  let i = 0;
  return title.replace(/%[sid]/g, () => String(args[i++]));
}
const asArgs = (row: unknown): unknown[] => (Array.isArray(row) ? row : [row]);

function describeImpl(title: string, body: () => void): void {
  const suite: Suite = { title, tests: [], before: [], after: [], children: [] };
  current.children.push(suite);
  const parent = current;
  current = suite;
  try {
    body();
  } finally {
    current = parent;
  }
}
function itImpl(title: string, fn: Fn): void {
  current.tests.push({ title, fn });
}
function withEach<T extends (title: string, fn: never) => void>(impl: T) {
  return Object.assign(impl, {
    each:
      (rows: readonly unknown[]) =>
      (title: string, fn: (...args: never[]) => unknown): void =>
        rows.forEach((row) => impl(format(title, asArgs(row)), (() => fn(...(asArgs(row) as never[]))) as never)),
  });
}

export const describe = withEach(describeImpl);
export const it = withEach(itImpl);
export const test = it;
export const beforeAll = (fn: Fn): void => void current.before.push(fn);
export const afterAll = (fn: Fn): void => void current.after.push(fn);

// --- expect -------------------------------------------------------------------------------------------------

/** Deep equality with Object.is on numbers (so -0 and 0 differ, as in vitest's toEqual on arrays). */
function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
const show = (v: unknown): string => {
  try {
    return JSON.stringify(v, (_k, x) => (Object.is(x, -0) ? '-0' : ArrayBuffer.isView(x) ? Array.from(x as Float32Array) : x));
  } catch {
    return String(v);
  }
};

export function expect(actual: unknown, message?: string) {
  const check = (ok: boolean, what: string): void => {
    if (!ok) throw new Error(`${message ? `${message}: ` : ''}expected ${show(actual)} ${what}`);
  };
  return {
    toBe: (want: unknown) => check(Object.is(actual, want), `to be ${show(want)}`),
    toEqual: (want: unknown) => check(equal(actual, want), `to equal ${show(want)}`),
    toBeNull: () => check(actual === null, 'to be null'),
    toBeLessThan: (n: number) => check((actual as number) < n, `to be less than ${n}`),
    toBeLessThanOrEqual: (n: number) => check((actual as number) <= n, `to be at most ${n}`),
    toBeGreaterThan: (n: number) => check((actual as number) > n, `to be greater than ${n}`),
    // vitest: |actual - want| < 10^-digits / 2
    toBeCloseTo: (want: number, digits = 2) => check(Math.abs((actual as number) - want) < 10 ** -digits / 2, `to be close to ${want} (${digits} digits)`),
    toThrow: (want?: string | RegExp) => {
      let error: unknown = null;
      try {
        (actual as Fn)();
      } catch (e) {
        error = e;
      }
      const text = error instanceof Error ? error.message : String(error);
      check(error !== null && (want === undefined || (typeof want === 'string' ? text.includes(want) : want.test(text))), `to throw ${String(want ?? '')} (threw ${error === null ? 'nothing' : show(text)})`);
    },
  };
}

// --- running ------------------------------------------------------------------------------------------------

export interface TestResult {
  title: string;
  ok: boolean;
  ms: number;
  error?: string;
}

/** Run the collected tests whose full title ("suite > test") matches `filter`, with their suites' hooks. */
export async function runCollected(filter: RegExp): Promise<TestResult[]> {
  const results: TestResult[] = [];
  const visit = async (suite: Suite, path: string): Promise<void> => {
    const prefix = path ? `${path} > ` : '';
    const selected = suite.tests.filter((t) => filter.test(`${prefix}${t.title}`));
    const hasSelected = (s: Suite, p: string): boolean =>
      s.tests.some((t) => filter.test(`${p}${t.title}`)) || s.children.some((c) => hasSelected(c, `${p}${c.title} > `));
    if (!hasSelected(suite, prefix)) return;
    for (const hook of suite.before) await hook();
    for (const t of selected) {
      const start = performance.now();
      try {
        await t.fn();
        results.push({ title: `${prefix}${t.title}`, ok: true, ms: performance.now() - start });
      } catch (e) {
        results.push({ title: `${prefix}${t.title}`, ok: false, ms: performance.now() - start, error: e instanceof Error ? e.message : String(e) });
      }
    }
    for (const child of suite.children) await visit(child, `${prefix}${child.title}`);
    for (const hook of suite.after) await hook();
  };
  await visit(root, '');
  return results;
}
