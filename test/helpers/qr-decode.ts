import { createRequire } from 'node:module';
import jsQR from 'jsqr';

interface DecodedPng {
  width: number;
  height: number;
  data: Buffer;
}
// pngjs ships no types; it is qrcode's own dependency, used here only to read pixels back.
const pngjs = createRequire(import.meta.url)('pngjs') as { PNG: { sync: { read(buf: Buffer): DecodedPng } } };

/** Decodes a QR code from a PNG, or undefined when none is found. */
export function decodeQrPng(png: Buffer): string | undefined {
  const image = pngjs.PNG.sync.read(png);
  const result = jsQR(new Uint8ClampedArray(image.data), image.width, image.height);
  return result?.data;
}

/** True when the buffer starts with the PNG signature. */
export function isPng(buf: Buffer): boolean {
  return buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
}
