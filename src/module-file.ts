/**
 * A module's file by its path without extension, relative to the caller's `import.meta.url`: the TypeScript
 * source when the caller runs from src/ (through tsx), the compiled JavaScript when it runs from the package's
 * dist/src/. Worker entry points and modules imported by a computed path need it; static imports are
 * rewritten by the compiler.
 */
export function moduleFile(relativePath: string, callerUrl: string): URL {
  return new URL(`${relativePath}${callerUrl.endsWith('.ts') ? '.ts' : '.js'}`, callerUrl);
}
