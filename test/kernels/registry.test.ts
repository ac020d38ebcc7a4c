/** The registry on its own (no gpu.js backend loaded in this file): names, and refusal without fallback. */
import { describe, expect, it } from 'vitest';
import { getBackend, setBackend } from '../../src/kernels/registry.ts';

describe('registry', () => {
  it('names the backend in use and refuses unknown ones without falling back', () => {
    expect(getBackend().name).toBe('js');
    expect(() => setBackend('cuda')).toThrow("setBackend: no backend named 'cuda' is registered (registered: js)");
    expect(getBackend().name).toBe('js');
  });
});
