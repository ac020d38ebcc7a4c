/**
 * Debian's chromium for the browser tests (the binary itself avoids the wrapper script's warning; either works).
 * Without it those tests skip, saying why, unless BROWSER_TEST=1 (.ci/run sets it once chromium is installed)
 * makes that a failure: a CI run must not pass the browser checks by skipping them.
 */
import { existsSync } from 'node:fs';

export const CHROMIUM = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => existsSync(p));
if (!CHROMIUM && process.env.BROWSER_TEST === '1') throw new Error('BROWSER_TEST=1, but there is no Chromium at /usr/lib/chromium/chromium or /usr/bin/chromium (Debian: apt-get install chromium)');
