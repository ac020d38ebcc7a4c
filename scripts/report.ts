/**
 * Draw the report of any sweep's results.json again (the CLI's, a merge's, or the explorer's export): the file
 * is checked as every reader checks it (src/phase/results-check.ts), then its plots and index.html are written
 * beside it or into --out, with the file's own manifest; results.json itself is copied, never rewritten.
 *
 *   npx tsx scripts/report.ts out/feature-2x1                       # redraw in place
 *   npx tsx scripts/report.ts ~/Downloads/results.json --out report # an explorer export, into its own folder
 */
import { copyFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { FlagError, parseFlags, runScript } from '../src/cli.ts';
import { headline, writeReport } from '../src/phase/report.ts';
import { checkResults, ResultsFileError } from '../src/phase/results-check.ts';
import { readResultsFile } from '../src/phase/verify.ts';

async function main(argv: readonly string[]): Promise<void> {
  // Positional arguments are the ones that are neither a flag nor --out's value (told apart by position).
  const positional = argv.map((a, i) => !a.startsWith('--') && argv[i - 1] !== '--out');
  const paths = argv.filter((_, i) => positional[i]);
  const flags = parseFlags(argv.filter((_, i) => !positional[i]), {
    out: { kind: 'string', default: '', help: "folder for the plots and index.html (default: the results file's own folder)" },
  }, 'usage: npx tsx scripts/report.ts DIR|results.json [--out DIR]   draw the report of a sweep\'s results.json again, from the file alone');
  if (paths.length !== 1) throw new FlagError(`give one results.json or the folder holding it (found ${paths.length} paths)`);
  const file = existsSync(paths[0]) && statSync(paths[0]).isDirectory() ? join(paths[0], 'results.json') : paths[0];
  if (!existsSync(file)) throw new FlagError(`${file}: no such file`);
  const { manifest, content } = readResultsFile(file);
  if (content.kind === 'comparison') throw new ResultsFileError(`${file}: a comparison; its report is drawn by compare.ts (compare.ts --verify ${dirname(file)} re-runs and checks it)`);
  const results = checkResults(content, file);
  const out = resolve(flags.out || dirname(file));
  const written = await writeReport(results, out, manifest.backend, manifest);
  if (resolve(dirname(file)) !== out) copyFileSync(file, join(out, 'results.json'));
  console.log(`report: wrote ${written.length} files to ${out}: open ${join(out, 'index.html')}`);
  console.log(headline(results));
}

runScript('report', main);
