// Worker threads do not inherit tsx's TypeScript loader: register it for a TypeScript worker (running from
// src/), then load the worker; the package's compiled workers (dist/src/) need no loader.
import { workerData } from 'node:worker_threads';

if (workerData.entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.entry);
