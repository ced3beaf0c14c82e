/**
 * A fine-tuned classifier from its model.safetensors (finetune-checkpoint.ts): the encoder config
 * and num_classes from the metadata, every parameter and pos_embed from the tensors.
 */
import { readFile } from 'node:fs/promises';
import { classifierConfigOf, modelConfigFromMetadata, parseSafetensors, VitClassifier } from '@cim-forge/cim';

export async function loadClassifierFile(path: string): Promise<VitClassifier> {
  const file = parseSafetensors(new Uint8Array(await readFile(path)), path);
  const numClasses = Number(file.metadata.num_classes);
  if (!file.tensors.has('head.weight') || !Number.isInteger(numClasses)) {
    throw new Error(`${path}: not a fine-tuned classifier (no head.weight / num_classes; a pre-training checkpoint needs \`cim finetune\` first)`);
  }
  const encoder = modelConfigFromMetadata(file.metadata);
  const model = new VitClassifier(classifierConfigOf(encoder, { numClasses }));
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
