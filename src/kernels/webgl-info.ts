/**
 * What WebGL a page has: WebGL2, float render targets (what gpu.js needs for single precision), the renderer
 * string, and whether that renderer is a GPU (software renderers such as SwiftShader and llvmpipe run shaders
 * on the CPU). Browser only: it creates a canvas. Declares the few DOM calls it makes (the project compiles
 * without the DOM typings).
 */
interface GL {
  RENDERER: number;
  getExtension(name: string): { UNMASKED_RENDERER_WEBGL: number } | null;
  getParameter(p: number): unknown;
}

export interface WebglInfo {
  webgl2: boolean;
  floatRenderTargets: boolean;
  renderer: string;
  hardware: boolean;
}

export function webglInfo(): WebglInfo {
  const doc = (globalThis as unknown as { document: { createElement(tag: 'canvas'): { getContext(kind: 'webgl2'): GL | null } } }).document;
  const gl = doc.createElement('canvas').getContext('webgl2');
  if (!gl) return { webgl2: false, floatRenderTargets: false, renderer: 'no WebGL2', hardware: false };
  const debug = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(debug ? debug.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  return {
    webgl2: true,
    floatRenderTargets: gl.getExtension('EXT_color_buffer_float') !== null,
    renderer,
    hardware: !/swiftshader|llvmpipe|software|basic render/i.test(renderer),
  };
}
