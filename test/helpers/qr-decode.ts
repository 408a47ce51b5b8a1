import { createRequire } from 'node:module';

interface DecodedPng {
  width: number;
  height: number;
  data: Buffer;
}
// pngjs ships no types; it is qrcode's own dependency, used here only to read pixels back.
const require = createRequire(import.meta.url);
const pngjs = require('pngjs') as { PNG: { sync: { read(buf: Buffer): DecodedPng } } };
// jsqr's CommonJS default export does not type-check as callable under NodeNext; load it the same way.
const jsQR = require('jsqr') as (
  data: Uint8ClampedArray,
  width: number,
  height: number,
) => { data: string } | null;

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
