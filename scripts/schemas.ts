/**
 * The file formats as JSON Schema (draft-07), for other tools: converted with @valibot/to-json-schema from the
 * very schemas the readers use (src/phase/results-check.ts), written to docs/schemas/. What JSON Schema cannot
 * say (a cell at the position its density and importance give, labels that match their weights, a seed index
 * once per cell) only the readers check. `--check` exits 1 when docs/schemas/ differs from what the code gives.
 *
 *   npx tsx scripts/schemas.ts            # write docs/schemas/*.schema.json
 *   npx tsx scripts/schemas.ts --check    # are they current?
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toJsonSchema } from '@valibot/to-json-schema';
import { parseFlags } from '../src/cli.ts';
import { publishedSchemas } from '../src/phase/results-check.ts';
import { MAX_SHARDS, SHARD_FORMAT } from '../src/phase/shards.ts';
import { writeAtomic } from '../src/phase/sweep.ts';
import { modelDocumentSchema } from '../src/toy/io.ts';

/** Every format's JSON Schema text, by file name. */
export function schemaFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  // train.ts --json documents are model documents with more fields (densities, losses, metrics): one schema
  for (const [name, schema] of Object.entries({ ...publishedSchemas(SHARD_FORMAT, MAX_SHARDS), model: modelDocumentSchema() })) {
    // errorMode 'ignore': checks JSON Schema has no word for (the object-not-array guard, unique seeds) are left out
    const json = { ...toJsonSchema(schema, { errorMode: 'ignore' }), title: `superposition-lab ${name}` };
    files[`${name}.schema.json`] = `${JSON.stringify(json, null, 1)}\n`;
  }
  return files;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const flags = parseFlags(process.argv.slice(2), {
    out: { kind: 'string', default: 'docs/schemas', help: 'folder for the .schema.json files' },
    check: { kind: 'boolean', default: false, help: 'compare the folder with what the code gives; exit 1 when they differ' },
  }, 'usage: npx tsx scripts/schemas.ts [flags]   the file formats as JSON Schema, from the schemas the readers use');
  const files = schemaFiles();
  if (flags.check) {
    const stale = Object.entries(files).filter(([name, text]) => !existsSync(join(flags.out, name)) || readFileSync(join(flags.out, name), 'utf8') !== text).map(([name]) => name);
    if (stale.length) {
      console.error(`schemas: ${stale.join(', ')} in ${flags.out} differ from the code; run npx tsx scripts/schemas.ts`);
      process.exit(1);
    }
    console.log(`schemas: ${Object.keys(files).length} files in ${flags.out} are current`);
  } else {
    mkdirSync(flags.out, { recursive: true });
    for (const [name, text] of Object.entries(files)) writeAtomic(join(flags.out, name), text);
    console.log(`schemas: wrote ${Object.keys(files).length} files to ${flags.out}`);
  }
}
