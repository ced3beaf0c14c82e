/**
 * What the training engine, the checkpoints and the evaluation need of a CIM model, whatever its
 * backbone: CimViT and CimResNet implement it, through CimBase (head/cim-base.ts). Parameters are
 * named and laid out as PyTorch's `state_dict`; `specs` lists them in a fixed order (online,
 * decoder, target).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { AnyCimModelConfig, CimArchitecture } from './cim-model-config.ts';
import type { CimForward } from './head/cim-base.ts';
import type { HostTensor, ParamSpec } from './nn/params.ts';

export type { CimForward, HostTensor };

export interface CimModel {
  readonly architecture: CimArchitecture;
  readonly config: AnyCimModelConfig;
  readonly specs: readonly ParamSpec[];
  /**
   * Pre-training mode (true) or inference (false). Only BatchNorm cares: batch statistics and
   * running-statistic updates vs the running statistics. The ViT has no such layer.
   */
  training: boolean;
  p(name: string): tf.Variable;
  /** parameters that get gradients, in spec order */
  trainableNames(): string[];
  /** state the forward pass updates without gradients (BatchNorm running statistics), in spec order */
  bufferNames(): string[];
  /** context [B, C, C, 3], templates [T·B, S, S, 3], masks [T·B, C, C] float */
  forward(context: tf.Tensor4D, templates: tf.Tensor4D, masks: tf.Tensor3D): CimForward;
  /** loss and a gradient (our layout) for every trainable parameter; the target runs off the tape */
  lossAndGrads(context: tf.Tensor4D, templates: tf.Tensor4D, masks: tf.Tensor3D): { loss: tf.Scalar; grads: Map<string, tf.Tensor> };
  /** target ← m·target + (1 − m)·online */
  momentumUpdate(m: number): void;
  /** every parameter and buffer in `specs`, PyTorch names and layout */
  stateDict(): Promise<Map<string, HostTensor>>;
  /** fixed tensors saved beside the state dict (the ViT's sin-cos position embeddings) */
  fixedBuffers(): Map<string, HostTensor>;
  /** the safetensors header that makes a checkpoint self-describing (`cimModelMetadata`) */
  metadata(): Record<string, string>;
  /**
   * Load PyTorch-named weights; `targetFromOnline` fills a missing target parameter from its online
   * twin, `onlyRoles` loads only those roles (an encoder-only file keeps the decoder as it is).
   */
  loadStateDict(
    get: (name: string) => HostTensor | undefined,
    opts?: { targetFromOnline?: boolean; onlyRoles?: ParamSpec['role'][] },
  ): void;
  /** safe to call twice */
  dispose(): void;
}
