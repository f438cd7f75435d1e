/**
 * Tiled matrix multiplication `[B, M, K] @ [B, K, N]` with a fused epilogue.
 *
 * Each workgroup computes a `BM x BN` output tile; each thread a `TM x TN` register tile whose
 * rows are contiguous and whose columns are strided by the workgroup width, so that
 * neighbouring threads read neighbouring columns of B (coalesced on a GPU) and share the row
 * of A. On software adapters with a fixed subgroup size the workgroup is one subgroup whose
 * lanes split the tile's rows of A between them and exchange them with `subgroupBroadcast`:
 * lavapipe loads every address not built from constants lane by lane (a bounds-checked scalar
 * load per lane and component), so each row is loaded once per subgroup instead of once per
 * lane. When an operand is contiguous along K it is read as `vec4` four K-steps at a time.
 * Skinny products (few output tiles, long K) split K across workgroups and reduce the partial
 * sums in a second kernel, which then runs the epilogue. On GPUs (adapters that are not
 * software) float32-accumulating products of at least 64 x 64 use a workgroup-memory tiled
 * kernel instead (64 x 128 block tiles with 16 x 8 per thread, or 64 x 64 with 4 x 4 when there
 * are few tiles; double-buffered panels, `vec4` loads, unrolled K-steps); software adapters keep
 * the register-tiled kernel. Operands are any strided views (transposes and broadcast batches
 * are free); the epilogue is an IR expression of the accumulator (`acc`) and the output index
 * (`bt`, `i`, `j`), so bias, activation, residual add and scaling run before the single store.
 *
 * @module
 */

import type { KernelTarget } from "../kernel.ts";
import { workgroupGrid } from "../kernel.ts";
import type { Exp, ExpBuilder, ExpType, StorageFormat } from "../ir.ts";
import { bindingDecl, literal, WgslEmitter, wgslType } from "../wgsl_render.ts";
import { helperSource } from "../wgsl_helpers.ts";
import { isPacked, loadExpr, type RuntimeKernel, storeStatement } from "../codegen.ts";
import type { RuntimePlan } from "../schedule.ts";
import {
  declarations,
  kernelDeclarations,
  storeEpilogue,
  vec4AlongK,
  vec4AlongN,
} from "./_matmul_io.ts";
import {
  blockedBytes,
  blockedKernel,
  blockThreads,
  type BlockTiles,
  largeBlock,
  smallBlock,
} from "./matmul_blocked.ts";

export { blockThreads, type BlockTiles, largeBlock, smallBlock } from "./matmul_blocked.ts";

/** One operand as a strided view of an input buffer. */
export interface MatmulOperand {
  readonly slot: number;
  readonly format: StorageFormat;
  /** Offset of the batch's first element (an `idx` expression of the variable `bt`). */
  readonly base: Exp;
  /** Element stride along M (for A) or N (for B). */
  readonly rowStride: number;
  /** Element stride along K. */
  readonly kStride: number;
}

/** What {@link matmulPlan} generates. */
export interface MatmulSpec {
  readonly name: string;
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly a: MatmulOperand;
  readonly b: MatmulOperand;
  /** Accumulator type: f32 for float dtypes, i32/u32 for integers (wrapping). */
  readonly type: ExpType;
  /** Formats of all input slots (the epilogue may read more buffers than A and B). */
  readonly inputs: readonly StorageFormat[];
  readonly output: StorageFormat;
  /** The stored value, an expression of `acc`, `bt`, `i`, `j` (and epilogue loads). */
  readonly epilogue: Exp;
  readonly builder: ExpBuilder;
  readonly target: KernelTarget;
  /** Override the tile configuration (benchmarks). */
  readonly tiles?: MatmulTiles;
  /** The adapter runs on the CPU (lavapipe): tiles tuned for SIMD-lane execution. */
  readonly software?: boolean;
}

/** Tile configuration. */
export interface MatmulTiles {
  /** Threads along N and along M. */
  readonly wx: number;
  readonly wy: number;
  /** Rows per thread (contiguous). */
  readonly tm: number;
  /** Groups of 4 columns per thread. */
  readonly tv: number;
  /** Number of K splits (1: none). */
  readonly splitK: number;
  /** Most workgroups launched; they loop over the tiles. */
  readonly groups: number;
  /** Tile order: along M first ("col": consecutive tiles share B's column panel) or N first. */
  readonly order?: "row" | "col";
  /**
   * Workgroup-memory tiling (GPUs; see {@link BlockTiles}); `wx`, `wy`, `tm`, `tv` are then
   * unused. Float32 accumulation only.
   */
  readonly blocked?: BlockTiles;
  /**
   * Software adapters with a fixed subgroup size: the workgroup is one subgroup of `lanes`
   * threads (`wx = lanes`, `wy = 1`, `tm` a multiple of `lanes`). All lanes share the tile's `tm`
   * rows, but each lane loads only `tm / lanes` of them and gets the others from its neighbours
   * with `subgroupBroadcast` (see {@link chooseTiles}).
   */
  readonly lanes?: number;
}

/**
 * Chooses tiles for a shape. On a software adapter lavapipe runs a workgroup's invocations as
 * the SIMD lanes of one CPU thread and turns every storage load whose address is not built
 * from constants alone (anything indexed by a loop counter or the workgroup id) into a loop
 * over the lanes, one bounds-checked scalar load per lane and component: such loads, not the
 * arithmetic, bound the kernel. A 1-D workgroup of 8 lanes reads B as `vec4`s (4 columns per
 * lane); when the adapter's subgroup size `lanes` is fixed and `m >= lanes`, the workgroup is
 * one subgroup and the tile's 16 rows of A are split among the lanes, each lane loading
 * `16 / lanes` rows and broadcasting them to the others (`subgroupBroadcast` is a register
 * shuffle there), instead of every lane loading all 16 rows: 6 `vec4` loads per lane per 256
 * multiply-adds against 12 per 128 with 4 unshared rows and 8 columns per lane. Measured on
 * lavapipe (2 cores, 8 lanes, kernel alone, load ~2.7): 1024^3 in ~50 ms (~40 GFLOP/s)
 * against ~117 ms unshared. A few hundred workgroups loop over the tiles. A GPU gets 2-D
 * workgroups. Products with few tiles and a long K split K.
 *
 * @example
 * ```ts
 * import { chooseTiles } from "./matmul.ts";
 * chooseTiles(1, 1024, 1024, 1024, true).splitK; // 1
 * chooseTiles(1, 1024, 1024, 1024, true, true, 8).tm; // 16
 * ```
 */
export function chooseTiles(
  batch: number,
  m: number,
  n: number,
  k: number,
  software: boolean,
  allowBlocked = true,
  lanes = 0,
): MatmulTiles {
  // Tuned on lavapipe (2 cores) and on an H200 through Dawn's Vulkan backend (24 TFLOP/s at
  // 4096 with 8x8 register tiles and 16x4 threads).
  const tm = software
    ? (m >= 4 ? 4 : m >= 2 ? 2 : 1)
    : (m >= 256 ? 8 : m >= 4 ? 4 : m >= 2 ? 2 : 1);
  const tv = n >= 128 ? 2 : 1;
  const wx = software ? 8 : 16;
  const wy = software ? 1 : (m >= 64 ? 4 : m >= 16 ? 2 : 1);
  if (!software && allowBlocked && m >= 64 && n >= 64 && k >= 32) {
    // Workgroup-memory tiles on GPUs (see blockedKernel): largeBlock once there are enough
    // blocks to fill the machine (an H100/H200 has 132 SMs), 64 x 64 with 4 x 4 per thread
    // (more, smaller blocks) otherwise.
    const big = batch * Math.ceil(m / largeBlock.bm) * Math.ceil(n / largeBlock.bn) >= 128;
    const block = big ? largeBlock : smallBlock;
    const blocks = batch * Math.ceil(m / block.bm) * Math.ceil(n / block.bn);
    let split = 1;
    if (blocks < 128 && k >= 1024) {
      split = Math.max(1, Math.min(16, Math.floor(k / 256), Math.ceil(256 / blocks)));
    }
    return { wx: 16, wy: 16, tm: 1, tv: 1, splitK: split, groups: 1 << 20, blocked: block };
  }
  const splitFor = (tiles: number) => {
    const busy = software ? 32 : 256;
    return tiles < busy && k >= 512
      ? Math.max(1, Math.min(16, Math.floor(k / 128), Math.ceil(busy / tiles)))
      : 1;
  };
  // Software adapters only: their lanes run in lockstep, so a broadcast inside the partial-tile
  // branches is well defined; the same kernel with 32 lanes failed its test on an H200.
  if (software && lanes >= 2 && m >= lanes) {
    // Shared rows: 16 rows (a multiple of the subgroup size) and 4 columns per lane; 8 columns
    // or 24-32 rows measured no faster and compile slower (more registers spill).
    const rows = m >= 16 ? lanes * Math.max(1, Math.round(16 / lanes)) : lanes;
    const tiles = batch * Math.ceil(m / rows) * Math.ceil(n / (lanes * 4));
    return { wx: lanes, wy: 1, tm: rows, tv: 1, splitK: splitFor(tiles), groups: 256, lanes };
  }
  const tiles = batch * Math.ceil(m / (wy * tm)) * Math.ceil(n / (wx * 4 * tv));
  return { wx, wy, tm, tv, splitK: splitFor(tiles), groups: software ? 256 : 1 << 20 };
}

/**
 * The kernels of a (possibly split-K) matmul with its epilogue.
 *
 * @example
 * ```ts ignore
 * const plan = matmulPlan({ name: "mm", batch: 1, m: 64, n: 64, k: 64, ... });
 * ```
 */
export function matmulPlan(spec: MatmulSpec): RuntimePlan {
  // Shared rows need the subgroup size fixed at compile time and values subgroupBroadcast
  // accepts (bool operands have none).
  const lanes = spec.target.subgroups && spec.a.format !== "bool32"
    ? spec.target.subgroupSize ?? 0
    : 0;
  const chosen = spec.tiles ??
    chooseTiles(spec.batch, spec.m, spec.n, spec.k, spec.software ?? false, true, lanes);
  // Split-K sums partials in float32 and the workgroup tiles hold float32: integer products
  // (which wrap) take the register-tiled kernel without splitting.
  const fits = (block: BlockTiles) =>
    blockedBytes(block) <= spec.target.maxWorkgroupStorageBytes &&
    spec.target.maxInvocationsPerWorkgroup >= blockThreads(block);
  const usable = !chosen.blocked || fits(chosen.blocked)
    ? chosen
    : fits(smallBlock)
    ? { ...chosen, blocked: smallBlock }
    : chooseTiles(spec.batch, spec.m, spec.n, spec.k, spec.software ?? false, false);
  const tiles = spec.type === "f32" ? usable : {
    ...(usable.blocked
      ? chooseTiles(spec.batch, spec.m, spec.n, spec.k, spec.software ?? false, false)
      : usable),
    splitK: 1,
  };
  const kernelOf = (partial: string | null) =>
    tiles.blocked ? blockedKernel(spec, tiles, partial) : mainKernel(spec, tiles, partial);
  if (tiles.splitK <= 1) return { kernels: [kernelOf(null)], scratch: [] };
  const partials = spec.batch * spec.m * spec.n * tiles.splitK;
  return {
    kernels: [kernelOf("partial"), reduceKernel(spec, tiles.splitK)],
    scratch: [{ name: "partial", bytes: partials * 4 }],
  };
}

function mainKernel(spec: MatmulSpec, t: MatmulTiles, partial: string | null): RuntimeKernel {
  const { m, n, k, a, b } = spec;
  const ty = wgslType(spec.type);
  const isFloat = spec.type === "f32";
  const cols = 4 * t.tv;
  const bm = t.wy * t.tm, bn = t.wx * cols;
  const tilesM = Math.ceil(m / bm), tilesN = Math.ceil(n / bn);
  const total = spec.batch * tilesM * tilesN * t.splitK;
  const groups = Math.min(total, t.groups);
  const grid = workgroupGrid(groups, spec.target.maxWorkgroupsPerDimension);
  const aK4 = vec4AlongK(a, k), bN4 = vec4AlongN(b, n), bK4 = !bN4 && vec4AlongK(b, k);
  const unroll = aK4 || bK4 ? 4 : 1;
  const lanes = t.lanes ?? 0;
  if (lanes && (t.wx !== lanes || t.wy !== 1 || t.tm % lanes !== 0)) {
    throw new Error(
      `Shared-row matmul tiles need wx = lanes, wy = 1 and tm a multiple of lanes; got wx ${t.wx}, wy ${t.wy}, tm ${t.tm}, lanes ${lanes}`,
    );
  }
  /** A rows this thread loads: all `tm`, or `tm / lanes` when lanes share rows. */
  const aRows = lanes ? t.tm / lanes : t.tm;
  const emitter = new WgslEmitter((slot) => `in${slot}`);
  const helpers = emitter.helpers;
  const { lines: decls, bindings } = kernelDeclarations(spec, aK4, bN4 || bK4, partial);
  const kChunk = Math.ceil(k / t.splitK / 4) * 4;
  const body: string[] = [];
  body.push(
    `  let wlin = i32(wid.x + wid.y * ${grid[0]}u + wid.z * ${grid[0] * grid[1]}u);`,
    `  let dz = i32(wid.x >> 31u);`,
    // With shared rows the workgroup is exactly one subgroup, so the lane is the thread.
    lanes ? `  let tx = i32(sg);` : `  let tx = i32(lid.x);`,
    lanes ? `  let tyy = 0i;` : `  let tyy = i32(lid.y);`,
    `  for (var wtile = wlin; wtile < ${total}i; wtile = wtile + ${groups}i) {`,
    `  let split = wtile % ${t.splitK}i;`,
    `  let tile = wtile / ${t.splitK}i;`,
    `  let bt = tile / ${tilesM * tilesN}i;`,
    ...(t.order === "col"
      ? [`  let tileN = (tile / ${tilesM}i) % ${tilesN}i;`, `  let tileM = tile % ${tilesM}i;`]
      : [`  let tileM = (tile / ${tilesN}i) % ${tilesM}i;`, `  let tileN = tile % ${tilesN}i;`]),
    `  let i0 = tileM * ${bm}i + tyy * ${t.tm}i;`,
    `  let kBegin = split * ${kChunk}i;`,
    `  let kEnd = min(kBegin + ${kChunk}i, ${k}i);`,
  );
  emitter.scope(() => {
    const [aBase, bBase] = emitter.emit([a.base, b.base], body, "  ");
    // Load row g: row g of the tile, or with shared rows row `tx + lanes * g`.
    for (let g = 0; g < aRows; g++) {
      const row = lanes ? `tx + ${g * lanes}i` : `${g}i`;
      body.push(`  let ra${g} = ${aBase} + min(i0 + ${row}, ${m - 1}i) * ${a.rowStride}i;`);
    }
    // Column c of this thread: vec4 mode reads group g = tileN * wx * tv + tx + v * wx, columns
    // 4g..4g+3; otherwise column j = tileN * bn + tx + c * wx.
    const colOf = (c: number) =>
      bN4
        ? `(tileN * ${t.wx * t.tv}i + tx + ${Math.floor(c / 4) * t.wx}i) * 4i + ${c % 4}i`
        : `tileN * ${bn}i + tx + ${c * t.wx}i`;
    if (bN4) {
      for (let v = 0; v < t.tv; v++) {
        body.push(
          `  let gb${v} = (${bBase}) / 4i + min(tileN * ${t.wx * t.tv}i + tx + ${v * t.wx}i, ${
            n / 4 - 1
          }i);`,
        );
      }
    } else {
      for (let c = 0; c < cols; c++) {
        body.push(`  let cb${c} = ${bBase} + min(${colOf(c)}, ${n - 1}i) * ${b.rowStride}i;`);
      }
    }
    for (let r = 0; r < t.tm; r++) {
      for (let c = 0; c < cols; c++) {
        body.push(`  var c${r}_${c}: ${ty} = ${literal(0, spec.type)};`);
      }
    }
    const fma = (x: string, y: string, acc: string) =>
      isFloat ? `fma(${x}, ${y}, ${acc})` : `${acc} + ${x} * ${y}`;
    const la = (idx: string) => loadExpr(a.format, `in${a.slot}`, idx, helpers);
    const lb = (idx: string) => loadExpr(b.format, `in${b.slot}`, idx, helpers);
    /** Loads and FMAs for K-steps kk + q, q < count; A and B read in their best layouts. */
    const steps = (count: number, lines: string[]) => {
      const aVec = count === 4 && aK4;
      if (aVec) {
        for (let g = 0; g < aRows; g++) {
          lines.push(`    let av${g} = in${a.slot}v[(ra${g} + kk) >> 2u];`);
        }
      }
      if (count === 4 && bK4) {
        for (let c = 0; c < cols; c++) {
          lines.push(`    let bv${c} = in${b.slot}v[(cb${c} + kk) >> 2u];`);
        }
      }
      const q4 = ["x", "y", "z", "w"];
      const kqOf = (q: number) => q === 0 ? "kk" : `(kk + ${q}i)`;
      const aLoaded = (g: number, q: number) =>
        aVec ? `av${g}.${q4[q]}` : la(`ra${g} + ${kqOf(q)} * ${a.kStride}i`);
      /** Loads B's `vec4` groups for step q (B contiguous along N). */
      const bGroups = (q: number) => {
        for (let v = 0; v < t.tv; v++) {
          lines.push(
            `    let bq${v}_${q} = in${b.slot}v[gb${v} + ${kqOf(q)} * ${b.kStride / 4}i];`,
          );
        }
      };
      /** B's value for column c at step q, emitting its load unless it is in a `vec4` group. */
      const bValue = (c: number, q: number) => {
        if (bN4) return `bq${Math.floor(c / 4)}_${q}.${q4[c % 4]}`;
        const bval = count === 4 && bK4
          ? `bv${c}.${q4[q]}`
          : lb(`cb${c} + ${kqOf(q)} * ${b.kStride}i`);
        lines.push(`    let b${c}_${q} = ${bval};`);
        return `b${c}_${q}`;
      };
      if (lanes) {
        // All loads first, then one chain of `count` FMAs per accumulator: lavapipe keeps the
        // loop-carried accumulators in memory (64 of them spill), so each is read and written
        // once per iteration rather than once per K-step. The sum order is unchanged.
        if (bN4) { for (let q = 0; q < count; q++) bGroups(q); }
        const bs = Array.from(
          { length: count },
          (_, q) => Array.from({ length: cols }, (_, c) => bValue(c, q)),
        );
        if (!aVec) {
          for (let q = 0; q < count; q++) {
            for (let g = 0; g < aRows; g++) lines.push(`    let al${g}_${q} = ${aLoaded(g, q)};`);
          }
        }
        for (let r = 0; r < t.tm; r++) {
          // Row r was loaded by lane r % lanes as its load row r / lanes.
          const g = Math.floor(r / lanes);
          for (let q = 0; q < count; q++) {
            const src = aVec ? aLoaded(g, q) : `al${g}_${q}`;
            lines.push(`    let a${r}_${q} = subgroupBroadcast(${src}, ${r % lanes}u);`);
          }
          for (let c = 0; c < cols; c++) {
            let chain = `c${r}_${c}`;
            for (let q = 0; q < count; q++) chain = fma(`a${r}_${q}`, bs[q]![c]!, chain);
            lines.push(`    c${r}_${c} = ${chain};`);
          }
        }
        return;
      }
      for (let q = 0; q < count; q++) {
        for (let r = 0; r < t.tm; r++) lines.push(`    let a${r}_${q} = ${aLoaded(r, q)};`);
        if (bN4) bGroups(q);
        for (let c = 0; c < cols; c++) {
          const bname = bValue(c, q);
          for (let r = 0; r < t.tm; r++) {
            lines.push(`    c${r}_${c} = ${fma(`a${r}_${q}`, bname, `c${r}_${c}`)};`);
          }
        }
      }
    };
    body.push(`  var kk = kBegin;`);
    if (unroll === 4 || bN4) {
      body.push(`  for (; kk + 4i <= kEnd + dz; kk = kk + 4i) {`);
      steps(4, body);
      body.push("  }");
    }
    body.push(`  for (; kk < kEnd + dz; kk = kk + 1i) {`);
    steps(1, body);
    body.push("  }");
    if (partial) {
      // Partial sums, laid out [split, batch, M, N].
      for (let r = 0; r < t.tm; r++) {
        for (let c = 0; c < cols; c++) {
          body.push(
            `  { let i = i0 + ${r}i; let j = ${
              colOf(c)
            }; if (i < ${m}i && j < ${n}i) { ${partial}[((split * ${spec.batch}i + bt) * ${m}i + i) * ${n}i + j] = c${r}_${c}; } }`,
          );
        }
      }
    } else {
      // The epilogue is written once, in a loop over the register tile, to keep kernels small.
      body.push(`  var accs: array<${ty}, ${t.tm * cols}>;`);
      for (let r = 0; r < t.tm; r++) {
        for (let c = 0; c < cols; c++) body.push(`  accs[${r * cols + c}] = c${r}_${c};`);
      }
      const cExpr = bN4
        ? `(tileN * ${t.wx * t.tv}i + tx + (e % ${cols}i) / 4i * ${t.wx}i) * 4i + e % 4i`
        : `tileN * ${bn}i + tx + (e % ${cols}i) * ${t.wx}i`;
      storeEpilogue(emitter, spec, body, {
        count: `${t.tm * cols}i + dz`,
        row: `i0 + e / ${cols}i`,
        col: cExpr,
      });
    }
  });
  body.push("  }");
  const code = [
    ...(lanes ? ["enable subgroups;"] : []),
    ...decls,
    helperSource(helpers),
    `@compute @workgroup_size(${t.wx}, ${t.wy})`,
    lanes
      ? "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) sg: u32) {"
      : "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {",
    ...body,
    "}",
  ].join("\n");
  const name = partial ? `${spec.name}_splitk${t.splitK}` : spec.name;
  const kernel: RuntimeKernel = { name, code, bindings, workgroups: grid };
  return !partial && isPacked(spec.output) ? { ...kernel, clear: ["out0"] } : kernel;
}

/** Sums the split-K partials and applies the epilogue: one thread per output element. */
function reduceKernel(spec: MatmulSpec, splits: number): RuntimeKernel {
  const { m, n } = spec;
  const count = spec.batch * m * n;
  const wg = 256;
  const grid = workgroupGrid(Math.ceil(count / wg), spec.target.maxWorkgroupsPerDimension);
  const emitter = new WgslEmitter((slot) => `in${slot}`);
  const { lines: decls, bindings } = declarations(spec, new Set(), ["partial"]);
  decls.push(
    bindingDecl(bindings.length, "out0", spec.output, "read_write", isPacked(spec.output)),
  );
  bindings.push({ buffer: "out0", access: "read_write" });
  const body = [
    `  let e = i32((wid.x + wid.y * ${grid[0]}u + wid.z * ${grid[0] * grid[1]}u) * ${wg}u + lid);`,
    `  if (e >= ${count}i) { return; }`,
    `  let bt = e / ${m * n}i;`,
    `  let i = (e / ${n}i) % ${m}i;`,
    `  let j = e % ${n}i;`,
    `  var acc: f32 = 0.0f;`,
    `  for (var s = 0i; s < ${splits}i; s = s + 1i) { acc = acc + partial[s * ${count}i + e]; }`,
  ];
  const [v] = emitter.emit([spec.epilogue], body, "  ");
  body.push("  " + storeStatement("out0", spec.output, "e", v!, emitter.helpers));
  const code = [
    ...decls,
    helperSource(emitter.helpers),
    `@compute @workgroup_size(${wg})`,
    "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {",
    ...body,
    "}",
  ].join("\n");
  const kernel: RuntimeKernel = {
    name: `${spec.name}_splitk_sum`,
    code,
    bindings,
    workgroups: grid,
  };
  return isPacked(spec.output) ? { ...kernel, clear: ["out0"] } : kernel;
}
