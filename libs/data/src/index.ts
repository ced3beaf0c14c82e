export { checkIndex, grayToRgb, type ImageSource, type RgbImage } from './image-source.ts';
export { defaultCacheDir, setDefaultCacheDir } from './cache-dir.ts';
export {
  FASHION_MNIST_CACHE_FILE,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_SIZES,
  fashionMnistSource,
  type FashionMnistOptions,
  type FashionMnistSplit,
} from './fashion-mnist.ts';
export { decodeRgb, IMAGE_FOLDER_EXTENSIONS, imageFolderFromStore, imageFolderSource, type ImageFolderOptions } from './image-folder.ts';
export { isInside, localImageStore, notInAreaMessage, type ImageStore, type LocalImageStoreOptions } from './image-store.ts';
export { DEFAULT_VAL_FRACTION, imageFolderSplit, type FolderSplit, type FolderSplitOptions } from './image-folder-split.ts';
export { SYNTHETIC_CLASSES, syntheticSource, type SyntheticOptions } from './synthetic.ts';
export { openSource, type ImageFolderSpec, type SourceSpec } from './source-spec.ts';
export { hashSeeds, mixUint32, sampleSeed, SeededRandom } from './seeded-random.ts';
export { epochOrder, epochPermutation, shardPositionInEpoch, shardSize } from './epoch-order.ts';
export { type SampleFunction, type SampleInfo, type SampleTask } from './sample-function.ts';
export { PrefetchLoader, type LoaderBatch, type LoaderInfo, type LoaderState, type PrefetchLoaderOptions } from './prefetch-loader.ts';
