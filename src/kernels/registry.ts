/**
 * Backends by name, and the one in use. A backend is chosen explicitly; asking for one that is not registered
 * is an error that lists those that are, never a silent fallback.
 */
import { referenceKernels } from './reference.ts';
import type { Kernels } from './types.ts';

const backends = new Map<string, Kernels>([[referenceKernels.name, referenceKernels]]);
let active: Kernels = referenceKernels;

/** A backend that was asked for and cannot start here; the message says why. */
export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
}

/** Add a backend under its name (replacing one of the same name), without making it active. */
export function registerBackend(kernels: Kernels): void {
  backends.set(kernels.name, kernels);
}

/** The names of the registered backends. */
export function listBackends(): string[] {
  return [...backends.keys()];
}

/** Make the named backend the one every op uses from now on. */
export function setBackend(name: string): Kernels {
  const k = backends.get(name);
  if (!k) throw new Error(`setBackend: no backend named '${name}' is registered (registered: ${listBackends().join(', ')})`);
  active = k;
  return k;
}

/** The backend every op currently uses. */
export function getBackend(): Kernels {
  return active;
}

/** The active backend as scripts print it: its name, and its device when it has one. */
export function describeBackend(k: Kernels = active): string {
  return k.device ? `${k.name} (${k.device})` : k.name;
}

/** Run fn with `name` as the active backend, restoring the previous one afterwards. */
export function withBackend<T>(name: string, fn: () => T): T {
  const previous = active;
  setBackend(name);
  try {
    return fn();
  } finally {
    active = previous;
  }
}
