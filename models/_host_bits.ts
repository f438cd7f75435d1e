/**
 * Raw host storage to and from arrays, bit for bit. `np.array` converts numbers (a float16
 * array is made from values, not bit patterns) and `x.data()` widens half types to float32,
 * which loses NaN payloads; checkpoints must round-trip exactly, so they move the raw storage
 * (float16/bfloat16 as `Uint16Array` bit patterns, bool as 0/1 bytes) through the backend.
 *
 * @module
 */

import { NDArray } from "../autograd/mod.ts";
import { defaultBackend } from "../autograd/backends.ts";
import { allocHost, type DType, type HostArray } from "../kernels/dtype.ts";
import { fmtShape, sizeOf } from "../kernels/shape.ts";

/**
 * An array on the current device holding `data` as its raw storage (no conversion).
 *
 * @example
 * ```ts ignore
 * arrayFromHost(new Uint16Array([0x3c00]), [1], "float16"); // float16 [1] = 1
 * ```
 */
export function arrayFromHost(data: HostArray, shape: readonly number[], dtype: DType): NDArray {
  const expected = allocHost(dtype, 0).constructor;
  if (data.constructor !== expected || data.length !== sizeOf(shape)) {
    throw new Error(
      `arrayFromHost: ${data.constructor.name}(${data.length}) is not the storage of ${dtype}${
        fmtShape(shape)
      }`,
    );
  }
  return NDArray.fromBackend(defaultBackend().fromHost(data, { shape: [...shape], dtype }));
}

/**
 * The raw storage of a concrete array (half types as bit patterns), copied to the host.
 *
 * @example
 * ```ts ignore
 * await hostBits(np.array([1], { dtype: "float16" })); // Uint16Array [0x3c00]
 * ```
 */
export async function hostBits(x: NDArray): Promise<HostArray> {
  const value = x.backendValue();
  return await value.backend.read(value);
}
