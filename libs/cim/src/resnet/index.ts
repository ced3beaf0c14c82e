/** ResNet backbones for CIM (the paper's CNN variant). */
export * from './config.ts';
export { im2col, conv2dIm2col, conv2dFlat, matMulFast, maxPoolAfterRelu, convOutSide } from './conv.ts';
export { batchNorm, batchNormTrain, type BatchNormState } from './batch-norm.ts';
export { resnetParamSpecs, resnetBlocks, countResNetParams, type ResNetParamSpec, type ResNetBlockSpec } from './params.ts';
export {
  ResNet,
  forwardResNet,
  forwardResNetStages,
  featuresToTokens,
  initResNetVariables,
  type ParamGetter,
  type ResNetRunOptions,
} from './resnet.ts';
export {
  correlationDecoderSpecs,
  decoderPosEmbed,
  forwardCorrelationDecoder,
  correlationLoss,
  type CorrelationDecoderShape,
} from '../head/correlation-decoder.ts';
export { CimResNet, resnetTargetNameOf, resnetOnlineNameOf, ONLINE_PREFIX, TARGET_PREFIX } from './cim-resnet.ts';
