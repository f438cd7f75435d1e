/**
 * The workgroup-memory tiled matmul kernel that GPUs get (see {@link blockedKernel}) and its
 * configurations; `matmul.ts` chooses between it and the register-tiled kernel.
 *
 * @module
 */

import { workgroupGrid } from "../kernel.ts";
import { WgslEmitter } from "../wgsl_render.ts";
import { helperSource } from "../wgsl_helpers.ts";
import { isPacked, loadExpr, type RuntimeKernel } from "../codegen.ts";
import type { MatmulSpec, MatmulTiles } from "./matmul.ts";
import { kernelDeclarations, storeEpilogue, vec4AlongK, vec4AlongN } from "./_matmul_io.ts";

/**
 * The workgroup-memory tiled kernel's configuration: a `bm x bn` output block per workgroup,
 * `tm x tn` per thread (both multiples of 4), so `(bm / tm) * (bn / tn)` threads; K staged
 * `bk` steps at a time.
 */
export interface BlockTiles {
  readonly bm: number;
  readonly bn: number;
  readonly bk: number;
  readonly tm: number;
  readonly tn: number;
  /**
   * Unroll each slice's `bk` K-steps (GPUs: no loop overhead, constant shared-memory offsets);
   * software adapters compile a loop far faster than its unrolled body.
   */
  readonly unroll: boolean;
  /**
   * Visit output blocks in groups of this many block rows, column by column within a group,
   * so that consecutive workgroups share A and B panels in the L2 cache (1: row-major order).
   */
  readonly swizzle: number;
}

/**
 * Threads of a {@link BlockTiles} workgroup.
 *
 * @example
 * ```ts
 * import { blockThreads, largeBlock } from "./matmul_blocked.ts";
 * blockThreads(largeBlock); // 64
 * ```
 */
export function blockThreads(t: BlockTiles): number {
  return (t.bm / t.tm) * (t.bn / t.tn);
}

/**
 * The 64 x 128 block with 16 x 8 per thread (64 threads), block rows visited in groups of 4,
 * for GPUs with many blocks: the fastest of 50 configurations swept on an H200 through
 * Dawn/Vulkan (42.1 TFLOP/s at 4096, 38.5 at 2048; 128 x 128 with 8 x 8 per thread 32.5, the
 * same with a K loop instead of unrolled steps 25.6; `bk = 16` spills registers). See
 * bench/gpu_matmul_sweep.ts and bench/README.md.
 */
export const largeBlock: BlockTiles = {
  bm: 64,
  bn: 128,
  bk: 8,
  tm: 16,
  tn: 8,
  unroll: true,
  swizzle: 4,
};

/** The 64 x 64 block with 4 x 4 per thread (256 threads) for GPUs with few blocks. */
export const smallBlock: BlockTiles = {
  bm: 64,
  bn: 64,
  bk: 8,
  tm: 4,
  tn: 4,
  unroll: true,
  swizzle: 1,
};

/**
 * Bytes of workgroup memory {@link blockedKernel} needs (two buffers each of A and B).
 *
 * @example
 * ```ts
 * import { blockedBytes, largeBlock } from "./matmul_blocked.ts";
 * blockedBytes(largeBlock); // 12288
 * ```
 */
export function blockedBytes(t: BlockTiles): number {
  return 2 * t.bk * (t.bm + t.bn) * 4;
}

/**
 * The workgroup-memory tiled kernel for GPUs (after the CUTLASS / "SGEMM on NVIDIA" scheme):
 * `T = (bm / tm) * (bn / tn)` threads compute a `bm x bn` block tile; per slice of `bk`
 * K-steps the block's A panel (`bm x bk`, stored K-major) and B panel (`bk x bn`) are copied to
 * workgroup memory with coalesced (when contiguous, `vec4`) global loads, and each thread
 * accumulates a `tm x tn` register tile from `vec4` reads of the panels. Thread `(ty, tx)`
 * owns the row quads `ty + g * (bm / tm)` and the column quads `tx + h * (bn / tn)`, so a
 * warp's reads of one panel row are broadcasts or consecutive `vec4`s (no bank conflicts).
 * The panels are double-buffered with register prefetch: the next slice's global loads are
 * issued before the current slice's arithmetic and stored to the other buffer after it, so one
 * `workgroupBarrier` per slice separates every write of a buffer from the reads before and
 * after it. All barriers are in uniform control flow (loop bounds depend only on the
 * workgroup id). `partial` names a float32 scratch buffer for split-K partial sums (laid out
 * `[split, batch, M, N]`, the epilogue then runs in the reduction kernel); `null` stores the
 * epilogue's value to `out0`.
 *
 * @example
 * ```ts ignore
 * const kernel = blockedKernel(spec, { ...tiles, blocked: largeBlock }, null);
 * ```
 */
export function blockedKernel(
  spec: MatmulSpec,
  t: MatmulTiles,
  partial: string | null,
): RuntimeKernel {
  const { m, n, k, a, b } = spec;
  const block = t.blocked ?? largeBlock;
  const { bm, bn, bk, tm, tn } = block;
  const threads = blockThreads(block);
  // vec4 panel reads and stores need tm, tn (rows and columns in quads) and bk multiples of 4.
  if (
    [tm, tn, bk].some((x) => !Number.isInteger(x) || x < 4 || x % 4 !== 0) ||
    bm % tm !== 0 || bn % tn !== 0
  ) {
    throw new Error(
      `Blocked matmul tiles need tm, tn and bk positive multiples of 4 dividing bm and bn; ` +
        `got bm ${bm}, bn ${bn}, bk ${bk}, tm ${tm}, tn ${tn}`,
    );
  }
  const rowQuads = bm / tm, colQuads = bn / tn;
  const tilesM = Math.ceil(m / bm), tilesN = Math.ceil(n / bn);
  const total = spec.batch * tilesM * tilesN * t.splitK;
  const groups = Math.min(total, t.groups);
  const grid = workgroupGrid(groups, spec.target.maxWorkgroupsPerDimension);
  const aK4 = vec4AlongK(a, k), bN4 = vec4AlongN(b, n), bK4 = !bN4 && vec4AlongK(b, k);
  const emitter = new WgslEmitter((slot) => `in${slot}`);
  const helpers = emitter.helpers;
  const { lines: decls, bindings } = kernelDeclarations(spec, aK4, bN4 || bK4, partial);
  // Shared panels, as vec4s: sa[buf][q][row / 4] (K-major A) and sb[buf][q][col / 4].
  const sliceA = bk * bm / 4, sliceB = bk * bn / 4;
  decls.push(
    `var<workgroup> sa: array<vec4<f32>, ${2 * sliceA}>;`,
    `var<workgroup> sb: array<vec4<f32>, ${2 * sliceB}>;`,
  );
  const kChunk = Math.ceil(k / t.splitK / bk) * bk;
  // Shapes that the blocks tile exactly need no clamping of rows, columns or K-steps.
  const exactM = m % bm === 0, exactN = n % bn === 0, exactK = kChunk * t.splitK === k;
  const guardK = (zero: string, value: string) =>
    exactK ? `v = ${value};` : `v = select(${zero}, ${value}, kq < kEnd);`;
  const la = (idx: string) => loadExpr(a.format, `in${a.slot}`, idx, helpers);
  const lb = (idx: string) => loadExpr(b.format, `in${b.slot}`, idx, helpers);
  const body: string[] = [];
  body.push(
    `  let wlin = i32(wid.x + wid.y * ${grid[0]}u + wid.z * ${grid[0] * grid[1]}u);`,
    `  let dz = i32(wid.x >> 31u);`,
    `  let tid = i32(lid);`,
    `  let tx = tid % ${colQuads}i;`,
    `  let tyy = tid / ${colQuads}i;`,
    // One block per workgroup (GPUs launch them all) needs no loop: fewer live registers.
    groups >= total
      ? `  { let wtile = wlin; if (wtile < ${total}i) {`
      : `  for (var wtile = wlin; wtile < ${total}i; wtile = wtile + ${groups}i) {`,
    `  let split = wtile % ${t.splitK}i;`,
    `  let tile = wtile / ${t.splitK}i;`,
    `  let bt = tile / ${tilesM * tilesN}i;`,
    `  let inBatch = tile % ${tilesM * tilesN}i;`,
  );
  const swizzle = Math.max(1, Math.min(block.swizzle, tilesM));
  if (swizzle > 1) {
    // Groups of `swizzle` block rows, walked column by column (the last group may be short).
    body.push(
      `  let firstM = inBatch / ${swizzle * tilesN}i * ${swizzle}i;`,
      `  let rowsHere = min(${tilesM}i - firstM, ${swizzle}i);`,
      `  let tileM = firstM + (inBatch % ${swizzle * tilesN}i) % rowsHere;`,
      `  let tileN = (inBatch % ${swizzle * tilesN}i) / rowsHere;`,
    );
  } else {
    body.push(`  let tileM = inBatch / ${tilesN}i;`, `  let tileN = inBatch % ${tilesN}i;`);
  }
  body.push(
    `  let kBegin = split * ${kChunk}i;`,
    `  let kEnd = min(kBegin + ${kChunk}i, ${k}i);`,
  );
  /**
   * Per-thread copy jobs of one panel: `count` units (vec4s or scalars) per slice, `threads` at
   * a time; `load(e, k0)` gives the unit's register value and `store(e, v, buf)` its stores.
   */
  interface Copy {
    readonly name: string;
    readonly count: number;
    readonly type: string;
    readonly load: (e: string, k0: string) => string[];
    readonly store: (e: string, buf: string) => string[];
  }
  const copies: Copy[] = [];
  emitter.scope(() => {
    const [aBase, bBase] = emitter.emit([a.base, b.base], body, "  ");
    // ---- A panel: bm rows x bk K-steps, stored K-major.
    const storeA = (buf: string, row: string, q: string, v: string) => [
      `sa[${buf} * ${sliceA}i + (${q}) * ${bm / 4}i + (${row}) / 4i][(${row}) % 4i] = ${v};`,
    ];
    const rowA = (row: string) =>
      `${aBase} + ${
        exactM ? `(tileM * ${bm}i + ${row})` : `min(tileM * ${bm}i + ${row}, ${m - 1}i)`
      } * ${a.rowStride}i`;
    if (aK4) {
      copies.push({
        name: "pa",
        count: bm * bk / 4,
        type: "vec4<f32>",
        load: (e, k0) => [
          `let kq = ${k0} + (${e} % ${bk / 4}i) * 4i;`,
          `let g = (${rowA(`${e} / ${bk / 4}i`)} + min(kq, ${k - 4}i)) >> 2u;`,
          guardK("vec4<f32>(0.0f)", `in${a.slot}v[g]`),
        ],
        store: (e, buf) => {
          const row = `${e} / ${bk / 4}i`, q = `(${e} % ${bk / 4}i) * 4i`;
          return ["x", "y", "z", "w"].flatMap((c, i) => storeA(buf, row, `${q} + ${i}i`, `v.${c}`));
        },
      });
    } else {
      // Consecutive threads read consecutive addresses along A's contiguous axis.
      const kMajor = a.kStride === 1;
      const rowOf = (e: string) => kMajor ? `${e} / ${bk}i` : `${e} % ${bm}i`;
      const qOf = (e: string) => kMajor ? `${e} % ${bk}i` : `${e} / ${bm}i`;
      copies.push({
        name: "pa",
        count: bm * bk,
        type: "f32",
        load: (e, k0) => [
          `let kq = ${k0} + ${qOf(e)};`,
          guardK("0.0f", la(`${rowA(rowOf(e))} + min(kq, ${k - 1}i) * ${a.kStride}i`)),
        ],
        store: (e, buf) => storeA(buf, rowOf(e), qOf(e), "v"),
      });
    }
    // ---- B panel: bk K-steps x bn columns.
    const colB = (col: string) =>
      `${bBase} + ${
        exactN ? `(tileN * ${bn}i + ${col})` : `min(tileN * ${bn}i + ${col}, ${n - 1}i)`
      } * ${b.rowStride}i`;
    const storeB = (buf: string, q: string, col: string, v: string) =>
      `sb[${buf} * ${sliceB}i + (${q}) * ${bn / 4}i + (${col}) / 4i][(${col}) % 4i] = ${v};`;
    if (bN4) {
      copies.push({
        name: "pb",
        count: bk * bn / 4,
        type: "vec4<f32>",
        load: (e, k0) => [
          `let kq = ${k0} + ${e} / ${bn / 4}i;`,
          `let g = (${bBase}) / 4i + ${
            exactN
              ? `tileN * ${bn / 4}i + ${e} % ${bn / 4}i`
              : `min(tileN * ${bn / 4}i + ${e} % ${bn / 4}i, ${n / 4 - 1}i)`
          } + min(kq, ${k - 1}i) * ${b.kStride / 4}i;`,
          guardK("vec4<f32>(0.0f)", `in${b.slot}v[g]`),
        ],
        store: (e, buf) => [`sb[${buf} * ${sliceB}i + ${e}] = v;`],
      });
    } else if (bK4) {
      copies.push({
        name: "pb",
        count: bn * bk / 4,
        type: "vec4<f32>",
        load: (e, k0) => [
          `let kq = ${k0} + (${e} % ${bk / 4}i) * 4i;`,
          `let g = (${colB(`${e} / ${bk / 4}i`)} + min(kq, ${k - 4}i)) >> 2u;`,
          guardK("vec4<f32>(0.0f)", `in${b.slot}v[g]`),
        ],
        store: (e, buf) => {
          const col = `${e} / ${bk / 4}i`, q = `(${e} % ${bk / 4}i) * 4i`;
          return ["x", "y", "z", "w"].map((c, i) => storeB(buf, `${q} + ${i}i`, col, `v.${c}`));
        },
      });
    } else {
      const nMajor = b.rowStride === 1;
      const colOf = (e: string) => nMajor ? `${e} % ${bn}i` : `${e} / ${bk}i`;
      const qOf = (e: string) => nMajor ? `${e} / ${bn}i` : `${e} % ${bk}i`;
      copies.push({
        name: "pb",
        count: bk * bn,
        type: "f32",
        load: (e, k0) => [
          `let kq = ${k0} + ${qOf(e)};`,
          guardK("0.0f", lb(`${colB(colOf(e))} + min(kq, ${k - 1}i) * ${b.kStride}i`)),
        ],
        store: (e, buf) => [storeB(buf, qOf(e), colOf(e), "v")],
      });
    }
    // Prefetch registers: unit `tid + threads * s` of each panel goes through `{name}{s}`.
    const slots = (c: Copy) => Math.ceil(c.count / threads);
    for (const c of copies) {
      for (let s = 0; s < slots(c); s++) body.push(`  var ${c.name}${s}: ${c.type};`);
    }
    const guarded = (c: Copy, s: number, lines: string[]) => {
      const e = `(tid + ${threads * s}i)`;
      return c.count % threads === 0 ? lines : [`if (${e} < ${c.count}i) {`, ...lines, "}"];
    };
    const loadAll = (k0: string, indent: string) => {
      for (const c of copies) {
        for (let s = 0; s < slots(c); s++) {
          const e = `(tid + ${threads * s}i)`;
          const inner = [`{`, `var v: ${c.type};`, ...c.load(e, k0), `${c.name}${s} = v;`, `}`];
          body.push(...guarded(c, s, inner).map((l) => indent + l));
        }
      }
    };
    const storeAll = (buf: string, indent: string) => {
      for (const c of copies) {
        for (let s = 0; s < slots(c); s++) {
          const e = `(tid + ${threads * s}i)`;
          const inner = [`{`, `let v = ${c.name}${s};`, ...c.store(e, buf), `}`];
          body.push(...guarded(c, s, inner).map((l) => indent + l));
        }
      }
    };
    for (let r = 0; r < tm; r++) {
      for (let c = 0; c < tn; c++) body.push(`  var c${r}_${c}: f32 = 0.0f;`);
    }
    // Slice 0 into buffer 0, then per slice: prefetch the next, compute, store it, barrier.
    loadAll("kBegin", "  ");
    storeAll("0i", "  ");
    body.push(
      "  workgroupBarrier();",
      `  let slices = (kEnd - kBegin + ${bk - 1}i) / ${bk}i;`,
      `  for (var sl = 0i; sl < slices + dz; sl = sl + 1i) {`,
      `    let cur = sl & 1i;`,
      `    let more = sl + 1i < slices;`,
      `    if (more) {`,
    );
    loadAll(`kBegin + (sl + 1i) * ${bk}i`, "      ");
    body.push("    }");
    body.push(`    let baseA = cur * ${sliceA}i + tyy;`, `    let baseB = cur * ${sliceB}i + tx;`);
    const q4 = ["x", "y", "z", "w"];
    /** One K-step: `tm / 4 + tn / 4` vec4 reads of the panels feed `tm * tn` FMAs. */
    const step = (q: string, indent: string) => {
      for (let g = 0; g < tm / 4; g++) {
        body.push(`${indent}let a${g} = sa[baseA + ${q} * ${bm / 4}i + ${g * rowQuads}i];`);
      }
      for (let h = 0; h < tn / 4; h++) {
        body.push(`${indent}let b${h} = sb[baseB + ${q} * ${bn / 4}i + ${h * colQuads}i];`);
      }
      for (let r = 0; r < tm; r++) {
        for (let c = 0; c < tn; c++) {
          const av = `a${Math.floor(r / 4)}.${q4[r % 4]}`;
          const bv = `b${Math.floor(c / 4)}.${q4[c % 4]}`;
          body.push(`${indent}c${r}_${c} = fma(${av}, ${bv}, c${r}_${c});`);
        }
      }
    };
    if (block.unroll) {
      for (let q = 0; q < bk; q++) {
        body.push("    {");
        step(`${q}i`, "      ");
        body.push("    }");
      }
    } else {
      // `+ dz` (always 0) keeps LLVM from unrolling the loop on software adapters.
      body.push(`    for (var q = 0i; q < ${bk}i + dz; q = q + 1i) {`);
      step("q", "      ");
      body.push("    }");
    }
    body.push("    if (more) {");
    storeAll("(1i - cur)", "      ");
    body.push("    }", "    workgroupBarrier();", "  }");
    const rowOf = (r: string) =>
      `tileM * ${bm}i + ((${r}) / 4i * ${rowQuads}i + tyy) * 4i + (${r}) % 4i`;
    const colOf = (c: string) =>
      `tileN * ${bn}i + ((${c}) / 4i * ${colQuads}i + tx) * 4i + (${c}) % 4i`;
    if (partial) {
      // Partial sums, laid out [split, batch, M, N].
      for (let r = 0; r < tm; r++) {
        for (let c = 0; c < tn; c++) {
          body.push(
            `  { let i = ${rowOf(`${r}i`)}; let j = ${
              colOf(`${c}i`)
            }; if (i < ${m}i && j < ${n}i) { ${partial}[((split * ${spec.batch}i + bt) * ${m}i + i) * ${n}i + j] = c${r}_${c}; } }`,
          );
        }
      }
    } else {
      body.push(`  var accs: array<f32, ${tm * tn}>;`);
      for (let r = 0; r < tm; r++) {
        for (let c = 0; c < tn; c++) body.push(`  accs[${r * tn + c}] = c${r}_${c};`);
      }
      storeEpilogue(emitter, spec, body, {
        count: `${tm * tn}i + dz`,
        row: rowOf(`e / ${tn}i`),
        col: colOf(`e % ${tn}i`),
      });
    }
  });
  body.push(groups >= total ? "  } }" : "  }");
  const code = [
    ...decls,
    helperSource(helpers),
    `@compute @workgroup_size(${threads})`,
    "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {",
    ...body,
    "}",
  ].join("\n");
  const name = `${spec.name}_wg${bm}x${bn}${partial ? `_splitk${t.splitK}` : ""}`;
  const kernel: RuntimeKernel = { name, code, bindings, workgroups: grid };
  return !partial && isPacked(spec.output) ? { ...kernel, clear: ["out0"] } : kernel;
}
