export { createS3Client, type S3ConnectionOptions } from './s3-client.ts';
export { S3CheckpointStore, type S3CheckpointStoreOptions } from './s3-checkpoint-store.ts';
export { S3ImageStore, type S3ImageStoreOptions } from './s3-image-store.ts';
export { CheckpointCorruptError } from './checkpoint-corrupt-error.ts';
export { type CheckpointManifest, MANIFEST_FILE, serializeManifest, sha256Hex } from './checkpoint-manifest.ts';
export { parseS3Uri, parseCheckpointUri, type S3Location } from './s3-uri.ts';
export { importKey, importPrefix, isInImportArea } from './import-area.ts';
export { FetchLimitError, fetchImageFolder, type FetchImageFolderOptions } from './fetch-image-folder.ts';
export { figureInputKey, figurePngKey } from './figure-keys.ts';
