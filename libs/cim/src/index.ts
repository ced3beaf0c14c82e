/** libs/cim: CIM's maths on tfjs — model, sampler, loss, optimizer, schedules. No I/O services. */
export * from './rng.ts';
export * from './sampler/index.ts';
export * from './vit/config.ts';
export { CimViT, onlineNameOf, targetNameOf } from './vit/cim-vit.ts';
export * from './cim-model-config.ts';
export type { CimModel, CimForward, HostTensor } from './cim-model.ts';
export { createCimModel, cimModelFromConfig } from './create-cim-model.ts';
export { fromTorch, toTorch, ourShape, type ParamSpec } from './nn/params.ts';
export { cimParamSpecs } from './vit/params.ts';
export { sincosPosEmbed2d, resizePosEmbed, resizeGridBicubic } from './nn/pos-embed.ts';
export { linear, gelu, layerNorm, attention } from './nn/layers.ts';
export { setKernelStyle, type KernelStyle } from './nn/kernel-style.ts';
export { setFusedTfKernels, fusedTfKernels } from './resnet/tf-kernels.ts';
export {
  setDnnlConv,
  setDnnlBatchNorm,
  dnnlThreads,
  setDnnlThreads,
  setDnnlZeroCopy,
  dnnlConvOn,
  dnnlConvStatus,
  dnnlVersion,
} from './resnet/dnnl-conv.ts';
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
} from './backend/backend.ts';
export { initWebGpuBackend, currentWebGpuAdapter, NO_READ_SYNC } from './backend/webgpu-backend.ts';
export * from './backend/webgpu-adapter.ts';
export { newVariable, assignValues } from './nn/tensors.ts';
export * from './classifier/index.ts';
export * from './resnet/index.ts';
