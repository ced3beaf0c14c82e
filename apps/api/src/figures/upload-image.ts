/**
 * An uploaded image for a figure: base64 (optionally a data: URL) of a PNG or JPEG, at most
 * MAX_UPLOAD_BYTES decoded, that decodes in full to a size the sampler can use. Every refusal
 * names what is wrong (the route answers 400 with it).
 */
import sharp from 'sharp';

/** decoded bytes, at most */
export const MAX_UPLOAD_BYTES = 2 * 1024 * 1024;
/** the request body limit of the upload route: base64 of MAX_UPLOAD_BYTES plus room for the JSON around it */
export const UPLOAD_BODY_LIMIT = Math.ceil((MAX_UPLOAD_BYTES * 4) / 3) + 64 * 1024;
/** smallest and largest side, px */
export const MIN_SIDE = 16;
export const MAX_SIDE = 8192;
/** decompression-bomb guard: pixels at most */
const MAX_PIXELS = 40_000_000;

export class UploadImageError extends Error {}

export interface UploadImage {
  bytes: Buffer;
  format: 'png' | 'jpeg';
  width: number;
  height: number;
}

export async function decodeUploadImage(text: string): Promise<UploadImage> {
  const m = /^data:image\/(?:png|jpeg|jpg);base64,/.exec(text);
  const b64 = (m ? text.slice(m[0].length) : text).replace(/\s+/g, '');
  if (b64.length === 0) throw new UploadImageError('image is empty');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 === 1) throw new UploadImageError('image is not base64');
  if (Math.floor((b64.length * 3) / 4) > MAX_UPLOAD_BYTES + 2)
    throw new UploadImageError(`image is larger than ${MAX_UPLOAD_BYTES} bytes (2 MiB) decoded`);
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length > MAX_UPLOAD_BYTES)
    throw new UploadImageError(`image is ${bytes.length} bytes decoded; at most ${MAX_UPLOAD_BYTES} (2 MiB)`);
  const isPng = bytes.length >= 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const isJpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (!isPng && !isJpeg) throw new UploadImageError('image must be a PNG or a JPEG (its first bytes are neither signature)');
  let width = 0;
  let height = 0;
  try {
    const meta = await sharp(bytes, { limitInputPixels: MAX_PIXELS }).metadata();
    width = meta.width ?? 0;
    height = meta.height ?? 0;
    if (width < MIN_SIDE || height < MIN_SIDE || width > MAX_SIDE || height > MAX_SIDE) {
      throw new UploadImageError(`image is ${width}×${height}; each side must be in [${MIN_SIDE}, ${MAX_SIDE}] px`);
    }
    // a full decode: a truncated or corrupt file fails here, not in the worker
    await sharp(bytes, { limitInputPixels: MAX_PIXELS, failOn: 'error' }).resize(8, 8).raw().toBuffer();
  } catch (e) {
    if (e instanceof UploadImageError) throw e;
    throw new UploadImageError(`image does not decode as a ${isPng ? 'PNG' : 'JPEG'}: ${(e as Error).message}`);
  }
  return { bytes, format: isPng ? 'png' : 'jpeg', width, height };
}
