// Plain tensors (typed array + dims) used by the graph builder, the serializer and the weight reader.

export type DType = "float32" | "float64" | "int64" | "int32" | "bool";
/** The floating-point types (float64 serves gradient checks; models run in float32). */
export type FloatType = "float32" | "float64";
/** A dimension: a number, a symbolic axis name (e.g. "batch_size"), or null when unknown. */
export type Dim = number | string | null;

export type TensorArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export interface TensorData {
  dtype: DType;
  dims: number[];
  data: TensorArray;
}

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE: Record<DType, number> = { float32: 1, float64: 11, int32: 6, int64: 7, bool: 9 };

export function isFloat(dtype: DType): dtype is FloatType {
  return dtype === "float32" || dtype === "float64";
}

export function dtypeFromOnnx(code: number): DType {
  const hit = (Object.keys(ONNX_DTYPE) as DType[]).find((k) => ONNX_DTYPE[k] === code);
  if (!hit) throw new Error(`unsupported ONNX tensor data type ${code}`);
  return hit;
}

export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function float32(dims: number[], data?: Float32Array | number[]): TensorData {
  const arr = data instanceof Float32Array ? data : data ? Float32Array.from(data) : new Float32Array(numel(dims));
  if (arr.length !== numel(dims)) throw new Error(`float32 tensor: ${arr.length} values for dims [${dims}]`);
  return { dtype: "float32", dims, data: arr };
}

export function int64(dims: number[], data: BigInt64Array | number[]): TensorData {
  const arr = data instanceof BigInt64Array ? data : BigInt64Array.from(data.map((v) => BigInt(v)));
  if (arr.length !== numel(dims)) throw new Error(`int64 tensor: ${arr.length} values for dims [${dims}]`);
  return { dtype: "int64", dims, data: arr };
}

export function float64(dims: number[], data?: Float64Array | number[]): TensorData {
  const arr = data instanceof Float64Array ? data : data ? Float64Array.from(data) : new Float64Array(numel(dims));
  if (arr.length !== numel(dims)) throw new Error(`float64 tensor: ${arr.length} values for dims [${dims}]`);
  return { dtype: "float64", dims, data: arr };
}

/** Little-endian bytes of a tensor's data, as ONNX raw_data stores them (this platform is little-endian). */
export function tensorBytes(t: TensorData): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Copies raw little-endian bytes into a fresh typed array of the given dtype. */
export function tensorFromBytes(dtype: DType, dims: number[], bytes: Uint8Array): TensorData {
  // A fresh aligned copy (Buffer.slice would be a view into a larger, possibly unaligned buffer).
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  const buf = copy.buffer;
  const n = numel(dims);
  const data =
    dtype === "float32"
      ? new Float32Array(buf, 0, n)
      : dtype === "float64"
        ? new Float64Array(buf, 0, n)
        : dtype === "int64"
        ? new BigInt64Array(buf, 0, n)
        : dtype === "int32"
          ? new Int32Array(buf, 0, n)
          : new Uint8Array(buf, 0, n);
  if (data.byteLength !== bytes.byteLength) throw new Error(`raw data of ${bytes.byteLength} bytes does not fit dims [${dims}]`);
  return { dtype, dims, data };
}
