/**
 * A fine-tuned classifier from its model.safetensors (finetune-checkpoint.ts): the encoder config
 * and num_classes from the metadata, every parameter (and pos_embed / BatchNorm statistics) from
 * the tensors. `loadClassifierFile` takes ViT classifiers; `loadImageClassifierFile` either kind.
 */
import { readFile } from 'node:fs/promises';
import { cimModelConfigFromMetadata, createClassifier, parseSafetensors, VitClassifier, type ImageClassifier } from '@cim-forge/cim';

export async function loadImageClassifierFile(path: string): Promise<ImageClassifier> {
  const file = parseSafetensors(new Uint8Array(await readFile(path)), path);
  const numClasses = Number(file.metadata.num_classes);
  if (!file.tensors.has('head.weight') || !Number.isInteger(numClasses)) {
    throw new Error(
      `${path}: not a fine-tuned classifier (no head.weight / num_classes; a pre-training checkpoint needs \`cim finetune\` first)`,
    );
  }
  const encoder = cimModelConfigFromMetadata(file.metadata);
  // a ViT classifier's metadata carries its resolution as the encoder's img_size; a ResNet's as img_size beside the backbone
  const imgSize = 'backbone' in encoder ? Number(file.metadata.img_size ?? encoder.contextSize) : undefined;
  const model = createClassifier(encoder, { numClasses, imgSize });
  try {
    model.loadStateDict((n) => {
      const t = file.tensors.get(n);
      return t ? { shape: t.shape, data: t.data as Float32Array } : undefined;
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

export async function loadClassifierFile(path: string): Promise<VitClassifier> {
  const model = await loadImageClassifierFile(path);
  if (model instanceof VitClassifier) return model;
  model.dispose();
  throw new Error(`${path}: a ResNet classifier; use loadImageClassifierFile`);
}
