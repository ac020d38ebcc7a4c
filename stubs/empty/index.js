// Intentionally empty: require() of this package must fail loudly elsewhere, not here.
throw new Error('native gpu.js extra (gl / webgpu) is not installed; see the README section on gpu.js');
