/**
 * The building blocks of every file format's schema (src/phase/results-check.ts for results, shards and
 * partial.json; src/toy/io.ts for saved models): valibot schemas whose messages name what was expected and what
 * was found, built from valibot's own actions so that they convert to JSON Schema (scripts/schemas.ts). No
 * Node code: the explorer checks imports with them too.
 */
import * as v from 'valibot';

/** A file's value for an error message, bounded in length so a hostile file cannot flood the terminal. */
export const show = (x: unknown): string => {
  const text = typeof x === 'string' ? `'${x}'` : (JSON.stringify(x) ?? String(x));
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
};

/** A finite number in [min, max] (an integer when asked). */
export function num(min: number, max: number, integer = false) {
  const message = (issue: v.BaseIssue<unknown>) => `expected ${integer ? 'an integer' : 'a number'} in ${min}..${max}, found ${show(issue.input)}`;
  const bounded = v.pipe(v.number(message), v.minValue(min, message), v.maxValue(max, message));
  return integer ? v.pipe(bounded, v.integer(message)) : bounded;
}
/** One of `choices` (only those: a prototype key such as 'toString' is not one). */
export const oneOf = <T extends string>(choices: readonly T[]) => v.picklist(choices as T[], (issue) => `expected one of ${choices.join(', ')}, found ${show(issue.input)}`);
/** An array of `min`..`max` entries (exactly `min` when max is omitted), each `item`. */
export const list = <T extends v.GenericSchema>(item: T, min: number, max = min) => {
  const count = (issue: v.BaseIssue<unknown>) => `expected ${min === max ? min : `${min}..${max}`} entries, found ${(issue.input as unknown[]).length}`;
  return v.pipe(v.array(item, (issue) => `expected an array, found ${show(issue.input)}`), v.minLength(min, count), v.maxLength(max, count));
};
/** How many entries a list holds: exactly n (a reader, sized by the file's own configuration) or a range (publication). */
export type Count = number | readonly [number, number];
export const sized = <T extends v.GenericSchema>(item: T, n: Count) => (typeof n === 'number' ? list(item, n) : list(item, n[0], n[1]));
/** An object (not an array) with at least these fields (others are allowed: derived fields, the manifest). */
export const record = <T extends v.ObjectEntries>(entries: T) =>
  v.pipe(
    v.custom<object>((x) => typeof x === 'object' && x !== null && !Array.isArray(x), (issue) => `expected an object, found ${show(issue.input)}`),
    v.looseObject(entries),
  );
export const text = (max: number) => v.pipe(v.string(() => `expected a string of at most ${max} characters`), v.maxLength(max, () => `expected a string of at most ${max} characters`));

/**
 * Parse `doc` with `schema`, or throw `fail(message)` with a message naming the source and the first failing
 * field: "SOURCE: cells[3].runs[0].loss: expected a number in 0..., found null".
 */
export function parseOrThrow<T extends v.GenericSchema>(schema: T, doc: unknown, fail: (message: string) => Error, source: string, root = ''): v.InferOutput<T> {
  const result = v.safeParse(schema, doc, { abortEarly: true });
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = (issue.path ?? []).map((p) => (typeof p.key === 'number' ? `[${p.key}]` : `.${String(p.key)}`)).join('');
  const where = `${root}${path}`.replace(/^\./, '') || 'the document';
  throw fail(`${source}: ${where}: ${issue.message}`);
}
