// UTF-8 of sampled byte-level tokens. Byte-level BPE splits multi-byte characters over tokens, so
// a sampled sequence can end inside a character (cut at the length limit) or go on with a token
// that starts another one before the first is finished. TextDecoder writes U+FFFD for such bytes;
// here every complete character is kept and bytes that form none are dropped.

/**
 * Length of the well-formed UTF-8 sequence starting at `bytes[i]` (Unicode, Table 3-7), or 0
 * when none starts there: a continuation byte, a byte never used in UTF-8, an overlong or
 * surrogate form, or a sequence cut short.
 */
export function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const lead = bytes[i];
  if (lead < 0x80) return 1;
  let length: number;
  let low = 0x80;
  let high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0;
    else if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90;
    else if (lead === 0xf4) high = 0x8f;
  } else return 0;
  if (i + length > bytes.length) return 0;
  if (bytes[i + 1] < low || bytes[i + 1] > high) return 0;
  for (let k = 2; k < length; k++) if ((bytes[i + k] & 0xc0) !== 0x80) return 0;
  return length;
}

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** The complete characters in `bytes`, in order; bytes that belong to no complete character are left out. */
export function decodeCompleteUtf8(bytes: Uint8Array): string {
  const kept = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; ) {
    const length = utf8SequenceLength(bytes, i);
    if (length === 0) {
      i++; // one byte dropped; the next may start a character
      continue;
    }
    kept.set(bytes.subarray(i, i + length), n);
    n += length;
    i += length;
  }
  return decoder.decode(kept.subarray(0, n));
}
