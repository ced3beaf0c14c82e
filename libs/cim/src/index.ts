/** libs/cim: CIM's maths on tfjs — model, sampler, loss, optimizer, schedules. No I/O services. */
export * from './rng.ts';
export * from './sampler/index.ts';
export * from './model/config.ts';
export { CimViT, onlineNameOf, targetNameOf } from './model/cim-vit.ts';
export * from './cim-model-config.ts';
export type { CimModel, CimForward, HostTensor } from './model/cim-model.ts';
export { createCimModel, cimModelFromConfig } from './create-cim-model.ts';
export { cimParamSpecs, fromTorch, toTorch, ourShape, type ParamSpec } from './model/params.ts';
export { sincosPosEmbed2d, resizePosEmbed, resizeGridBicubic } from './model/pos-embed.ts';
export { linear, gelu, layerNorm, attention } from './model/layers.ts';
export { setKernelStyle, type KernelStyle } from './model/kernel-style.ts';
export { setFusedTfKernels, fusedTfKernels } from './resnet/tf-kernels.ts';
export { setDnnlConv, setDnnlThreads, dnnlConvOn, dnnlVersion } from './resnet/dnnl-conv.ts';
export { AdamW, defaultAdamW, type AdamWConfig, type AdamWParam } from './optim/adamw.ts';
export { learningRate, targetMomentum, scaledLr } from './optim/schedules.ts';
export { clipByGlobalNorm } from './optim/clip.ts';
export { parseSafetensors, serializeSafetensors, type SafeFile, type SafeTensor } from './io/safetensors.ts';
export { runParity, parityTolerances, type ParityReport } from './parity.ts';
export {
  initBackend,
  currentBackend,
  nativeThreads,
  BACKEND_CHOICES,
  type BackendName,
  type BackendChoice,
  type BackendOptions,
} from './backend.ts';
export { initWebGpuBackend, currentWebGpuAdapter, NO_READ_SYNC } from './webgpu-backend.ts';
export * from './webgpu-adapter.ts';
export { newVariable, assignValues } from './tensors.ts';
export * from './classifier/index.ts';
export * from './resnet/index.ts';
