/**
 * What WebGL a page has: WebGL2, float render targets (what gpu.js needs for single precision), the renderer
 * string, and whether that renderer is a GPU (software renderers such as SwiftShader and llvmpipe run shaders
 * on the CPU). Browser only: it creates a canvas (an OffscreenCanvas in a Web Worker). Declares the few DOM calls it makes (the project compiles
 * without the DOM typings).
 */
interface GL {
  RENDERER: number;
  getExtension(name: 'WEBGL_debug_renderer_info'): { UNMASKED_RENDERER_WEBGL: number } | null;
  getExtension(name: 'WEBGL_lose_context'): { loseContext(): void } | null;
  getExtension(name: string): object | null;
  getParameter(p: number): unknown;
}

export interface WebglInfo {
  webgl2: boolean;
  floatRenderTargets: boolean;
  renderer: string;
  hardware: boolean;
}

export function webglInfo(): WebglInfo {
  // A page's canvas, or in a Web Worker an OffscreenCanvas
  type Canvas = { getContext(kind: 'webgl2'): GL | null };
  const scope = globalThis as unknown as { document?: { createElement(tag: 'canvas'): Canvas }; OffscreenCanvas?: new (w: number, h: number) => Canvas };
  const canvas = scope.document ? scope.document.createElement('canvas') : scope.OffscreenCanvas ? new scope.OffscreenCanvas(1, 1) : null;
  const gl = canvas?.getContext('webgl2') ?? null;
  if (!gl) return { webgl2: false, floatRenderTargets: false, renderer: 'no WebGL2', hardware: false };
  const debug = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(debug ? debug.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  const floatRenderTargets = gl.getExtension('EXT_color_buffer_float') !== null;
  // Give the context back at once: browsers keep only a few, and lose the oldest (maybe gpu.js's) beyond that.
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return { webgl2: true, floatRenderTargets, renderer, hardware: !/swiftshader|llvmpipe|software|basic render/i.test(renderer) };
}
