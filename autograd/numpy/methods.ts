/**
 * The `np` functions that back `NDArray`'s method forms (`x.add(y)`, `x.sum(0)`, ...).
 *
 * @module
 */
export {
  abs,
  add,
  astype,
  cos,
  divide,
  equal,
  exp,
  greater,
  greaterEqual,
  less,
  lessEqual,
  log,
  maximum,
  minimum,
  multiply,
  negative,
  notEqual,
  power,
  sin,
  sqrt,
  square,
  subtract,
  tanh,
} from "./elementwise.ts";
export { argmax, argmin, max, mean, min, sum } from "./reductions.ts";
export { expandDims, reshape, squeeze, transpose } from "./shape_ops.ts";
export { matmul } from "./linalg.ts";
