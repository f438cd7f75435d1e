/**
 * WGSL helper functions that give the generated kernels the reference interpreter's semantics.
 *
 * WGSL lets implementations assume that NaN and infinity never occur (spec 15.7.2) and leaves
 * several builtins undefined at their edges (`log(0)`, `max(NaN, x)`, `pow(-2, 3)`,
 * out-of-range float-to-int conversions). Each helper here decides those cases with integer
 * bit tests on the float's representation, which no fast-math assumption can remove, and
 * otherwise calls the native builtin. Integer division and remainder follow
 * `kernels/reference/scalar_math.ts` (truncation, `x / 0 = x`, `x % 0 = 0`, wrapping).
 *
 * @module
 */

/**
 * NaN and infinity as functions: WGSL constant expressions cannot hold them, and a `var`
 * keeps the bit pattern a runtime value.
 */
const prelude = `fn d_nan() -> f32 { var bits = 0x7fc00000u; return bitcast<f32>(bits); }
fn d_inf() -> f32 { var bits = 0x7f800000u; return bitcast<f32>(bits); }`;

/** Threefry-2x32, 20 rounds (Salmon et al. 2011), unrolled, as kernels/reference/threefry.ts. */
function threefrySource(): string {
  const rotations = [[13, 15, 26, 6], [17, 29, 16, 24]];
  const lines = [
    "fn d_threefry(k0: u32, k1: u32, x0: u32, x1: u32) -> vec2<u32> {",
    "  let k2 = k0 ^ k1 ^ 0x1bd11bdau;",
    "  var a = x0 + k0;",
    "  var b = x1 + k1;",
  ];
  const ks = ["k0", "k1", "k2"];
  for (let g = 0; g < 5; g++) {
    for (const r of rotations[g % 2]!) {
      lines.push(`  a = a + b; b = ((b << ${r}u) | (b >> ${32 - r}u)) ^ a;`);
    }
    // Key injection after every 4 rounds: ks[(g+1)%3], ks[(g+2)%3] + g + 1.
    lines.push(`  a = a + ${ks[(g + 1) % 3]}; b = b + ${ks[(g + 2) % 3]} + ${g + 1}u;`);
  }
  lines.push("  return vec2<u32>(a, b);", "}");
  return lines.join("\n");
}

/** Helper name -> [WGSL text, helpers it calls]. */
const helpers: Record<string, [string, string[]]> = {
  d_isnan: [
    `fn d_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }`,
    [],
  ],
  d_isinf: [
    `fn d_isinf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }`,
    [],
  ],
  d_signbit: [
    `fn d_signbit(x: f32) -> bool { return (bitcast<u32>(x) & 0x80000000u) != 0u; }`,
    [],
  ],
  d_log: [
    `fn d_log(x: f32) -> f32 {
  if (d_isnan(x) || x < 0.0) { return d_nan(); }
  if ((bitcast<u32>(x) & 0x7fffffffu) == 0u) { return -d_inf(); }
  if (d_isinf(x)) { return d_inf(); }
  return log(x);
}`,
    ["d_isnan", "d_isinf"],
  ],
  d_sqrt: [
    `fn d_sqrt(x: f32) -> f32 {
  if (d_isnan(x) || x < 0.0) { return d_nan(); }
  if (d_isinf(x)) { return d_inf(); }
  return sqrt(x);
}`,
    ["d_isnan", "d_isinf"],
  ],
  d_rsqrt: [
    `fn d_rsqrt(x: f32) -> f32 {
  if (d_isnan(x) || x < 0.0) { return d_nan(); }
  if ((bitcast<u32>(x) & 0x7fffffffu) == 0u) { return select(d_inf(), -d_inf(), d_signbit(x)); }
  if (d_isinf(x)) { return 0.0; }
  return 1.0 / sqrt(x);
}`,
    ["d_isnan", "d_isinf", "d_signbit"],
  ],
  d_exp: [
    `fn d_exp(x: f32) -> f32 {
  if (d_isnan(x)) { return x; }
  if (x > 88.72284) { return d_inf(); }
  if (x < -103.97208) { return 0.0; }
  return exp(x);
}`,
    ["d_isnan"],
  ],
  d_sin: [
    `fn d_sin(x: f32) -> f32 { if (d_isnan(x) || d_isinf(x)) { return d_nan(); } return sin(x); }`,
    ["d_isnan", "d_isinf"],
  ],
  d_cos: [
    `fn d_cos(x: f32) -> f32 { if (d_isnan(x) || d_isinf(x)) { return d_nan(); } return cos(x); }`,
    ["d_isnan", "d_isinf"],
  ],
  d_tanh: [
    // tanh(10) rounds to 1 in float32; clamping keeps exp-based implementations from inf/inf.
    `fn d_tanh(x: f32) -> f32 { if (d_isnan(x)) { return x; } return tanh(clamp(x, -10.0, 10.0)); }`,
    ["d_isnan"],
  ],
  d_logistic: [
    `fn d_logistic(x: f32) -> f32 {
  if (d_isnan(x)) { return x; }
  if (x >= 0.0) { return 1.0 / (1.0 + d_exp(-x)); }
  let e = d_exp(x);
  return e / (1.0 + e);
}`,
    ["d_isnan", "d_exp"],
  ],
  d_erf: [
    // Eigen's float erf: x * P(x^2) / Q(x^2) on [-4, 4] (erf(4) rounds to 1 in float32).
    `fn d_erf(x0: f32) -> f32 {
  if (d_isnan(x0)) { return x0; }
  let x = clamp(x0, -4.0, 4.0);
  let x2 = x * x;
  var p = -2.72614225801306e-10;
  p = fma(p, x2, 2.77068142495902e-08);
  p = fma(p, x2, -2.10102402082508e-06);
  p = fma(p, x2, -5.69250639462346e-05);
  p = fma(p, x2, -7.34990630326855e-04);
  p = fma(p, x2, -2.95459980854025e-03);
  p = fma(p, x2, -1.60960333262415e-02);
  var q = -1.45660718464996e-05;
  q = fma(q, x2, -2.13374055278905e-04);
  q = fma(q, x2, -1.68282697438203e-03);
  q = fma(q, x2, -7.37332916720468e-03);
  q = fma(q, x2, -1.42647390514189e-02);
  return x * p / q;
}`,
    ["d_isnan"],
  ],
  d_sign: [
    `fn d_sign(x: f32) -> f32 {
  if (d_isnan(x)) { return x; }
  return select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0);
}`,
    ["d_isnan"],
  ],
  d_fmax: [
    `fn d_fmax(a: f32, b: f32) -> f32 { if (d_isnan(a) || d_isnan(b)) { return d_nan(); } return max(a, b); }`,
    ["d_isnan"],
  ],
  d_fmin: [
    `fn d_fmin(a: f32, b: f32) -> f32 { if (d_isnan(a) || d_isnan(b)) { return d_nan(); } return min(a, b); }`,
    ["d_isnan"],
  ],
  d_feq: [
    `fn d_feq(a: f32, b: f32) -> bool { return a == b && !d_isnan(a) && !d_isnan(b); }`,
    ["d_isnan"],
  ],
  d_flt: [
    `fn d_flt(a: f32, b: f32) -> bool { return a < b && !d_isnan(a) && !d_isnan(b); }`,
    ["d_isnan"],
  ],
  d_fle: [
    `fn d_fle(a: f32, b: f32) -> bool { return a <= b && !d_isnan(a) && !d_isnan(b); }`,
    ["d_isnan"],
  ],
  d_fmod: [
    // JavaScript's % (C fmod): the exact remainder with the dividend's sign, by shift-and-
    // subtract on the significands (a port of musl's fmodf).
    `fn d_fmod(x: f32, y: f32) -> f32 {
  var ux = bitcast<u32>(x);
  var uy = bitcast<u32>(y);
  var ex = i32((ux >> 23u) & 0xffu);
  var ey = i32((uy >> 23u) & 0xffu);
  let sx = ux & 0x80000000u;
  if ((uy << 1u) == 0u || d_isnan(y) || ex == 255) { return d_nan(); }
  if ((ux << 1u) <= (uy << 1u)) {
    if ((ux << 1u) == (uy << 1u)) { return bitcast<f32>(sx); }
    return x;
  }
  if (ex == 0) {
    var i = ux << 9u;
    loop { if ((i >> 31u) != 0u) { break; } ex = ex - 1; i = i << 1u; }
    ux = ux << u32(-ex + 1);
  } else {
    ux = (ux & 0x7fffffu) | 0x800000u;
  }
  if (ey == 0) {
    var i = uy << 9u;
    loop { if ((i >> 31u) != 0u) { break; } ey = ey - 1; i = i << 1u; }
    uy = uy << u32(-ey + 1);
  } else {
    uy = (uy & 0x7fffffu) | 0x800000u;
  }
  loop {
    if (ex <= ey) { break; }
    let i = ux - uy;
    if ((i >> 31u) == 0u) {
      if (i == 0u) { return bitcast<f32>(sx); }
      ux = i;
    }
    ux = ux << 1u;
    ex = ex - 1;
  }
  let i = ux - uy;
  if ((i >> 31u) == 0u) {
    if (i == 0u) { return bitcast<f32>(sx); }
    ux = i;
  }
  loop { if ((ux >> 23u) != 0u) { break; } ux = ux << 1u; ex = ex - 1; }
  if (ex > 0) {
    ux = (ux - 0x800000u) | (u32(ex) << 23u);
  } else {
    ux = ux >> u32(-ex + 1);
  }
  return bitcast<f32>(ux | sx);
}`,
    ["d_isnan"],
  ],
  d_pow: [
    // JavaScript's Math.pow: x^0 = 1, NaN otherwise propagates, 1^inf = NaN, negative bases
    // only to integer powers.
    `fn d_pow(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (d_isnan(x) || d_isnan(y)) { return d_nan(); }
  let ax = abs(x);
  if (ax == 1.0 && d_isinf(y)) { return d_nan(); }
  var r: f32;
  if (ax == 0.0) { r = select(d_inf(), 0.0, y > 0.0); }
  else if (d_isinf(ax)) { r = select(0.0, d_inf(), y > 0.0); }
  else { r = exp2(y * log2(ax)); }
  if (d_signbit(x)) {
    let isInt = !d_isinf(y) && trunc(y) == y;
    if (!isInt && !d_isinf(x) && ax != 0.0 && !d_isinf(y)) { return d_nan(); }
    let odd = isInt && abs(y) < 16777216.0 && (i32(abs(y)) & 1) == 1;
    if (odd) { return -r; }
  }
  return r;
}`,
    ["d_isnan", "d_isinf", "d_signbit"],
  ],
  d_atan2: [
    `fn d_atan2(y: f32, x: f32) -> f32 {
  if (d_isnan(y) || d_isnan(x)) { return d_nan(); }
  if (y == 0.0 && x == 0.0) {
    if (d_signbit(x)) { return select(3.1415927, -3.1415927, d_signbit(y)); }
    return y;
  }
  if (d_isinf(y) && d_isinf(x)) {
    let a = select(0.7853982, 2.3561945, x < 0.0);
    return select(a, -a, y < 0.0);
  }
  return atan2(y, x);
}`,
    ["d_isnan", "d_isinf", "d_signbit"],
  ],
  d_div_i32: [
    `fn d_div_i32(a: i32, b: i32) -> i32 {
  if (b == 0) { return a; }
  if (b == -1) { return 0 - a; }
  return a / b;
}`,
    [],
  ],
  d_rem_i32: [
    `fn d_rem_i32(a: i32, b: i32) -> i32 { if (b == 0 || b == -1) { return 0; } return a % b; }`,
    [],
  ],
  d_div_u32: [
    `fn d_div_u32(a: u32, b: u32) -> u32 { if (b == 0u) { return a; } return a / b; }`,
    [],
  ],
  d_rem_u32: [
    `fn d_rem_u32(a: u32, b: u32) -> u32 { if (b == 0u) { return 0u; } return a % b; }`,
    [],
  ],
  d_f32_to_i32: [
    `fn d_f32_to_i32(x: f32) -> i32 {
  if (d_isnan(x)) { return 0; }
  if (x >= 2147483648.0) { return 2147483647; }
  if (x <= -2147483648.0) { return -2147483647 - 1; }
  return i32(x);
}`,
    ["d_isnan"],
  ],
  d_f32_to_u32: [
    `fn d_f32_to_u32(x: f32) -> u32 {
  if (d_isnan(x) || x <= 0.0) { return 0u; }
  if (x >= 4294967296.0) { return 4294967295u; }
  return u32(x);
}`,
    ["d_isnan"],
  ],
  d_f16_bits: [
    // float32 -> binary16 bits, round to nearest even (kernels/half.ts floatToHalfBits).
    `fn d_f16_bits(x: f32) -> u32 {
  let u = bitcast<u32>(x);
  let sign = (u >> 16u) & 0x8000u;
  let e = i32((u >> 23u) & 0xffu);
  var m = u & 0x7fffffu;
  if (e == 255) { return sign | 0x7c00u | select(0u, 0x200u, m != 0u); }
  let he = e - 112;
  if (he >= 31) { return sign | 0x7c00u; }
  if (he <= 0) {
    if (he < -10) { return sign; }
    m = m | 0x800000u;
    let shift = u32(14 - he);
    let h = m >> shift;
    let rest = m & ((1u << shift) - 1u);
    let halfway = 1u << (shift - 1u);
    return sign | select(h, h + 1u, rest > halfway || (rest == halfway && (h & 1u) == 1u));
  }
  let h = (u32(he) << 10u) | (m >> 13u);
  let rest = m & 0x1fffu;
  let r = select(h, h + 1u, rest > 0x1000u || (rest == 0x1000u && (h & 1u) == 1u));
  return sign | select(r, 0x7c00u, (r >> 10u) >= 31u);
}`,
    [],
  ],
  d_f16_from_bits: [
    `fn d_f16_from_bits(h: u32) -> f32 {
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  let s = select(1.0, -1.0, (h & 0x8000u) != 0u);
  if (e == 0u) { return s * f32(m) * 5.9604644775390625e-8; }
  if (e == 31u) { return select(s * d_inf(), d_nan(), m != 0u); }
  return bitcast<f32>(((h & 0x8000u) << 16u) | ((e + 112u) << 23u) | (m << 13u));
}`,
    [],
  ],
  d_round_f16: [
    `fn d_round_f16(x: f32) -> f32 { return d_f16_from_bits(d_f16_bits(x)); }`,
    ["d_f16_bits", "d_f16_from_bits"],
  ],
  d_bf16_bits: [
    // float32 -> bfloat16 bits, round to nearest even; NaN stays NaN (quieted).
    `fn d_bf16_bits(x: f32) -> u32 {
  let u = bitcast<u32>(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) { return (u >> 16u) | 0x40u; }
  return ((u + 0x7fffu + ((u >> 16u) & 1u)) >> 16u) & 0xffffu;
}`,
    [],
  ],
  d_bf16_from_bits: [
    `fn d_bf16_from_bits(h: u32) -> f32 { return bitcast<f32>(h << 16u); }`,
    [],
  ],
  d_round_bf16: [
    `fn d_round_bf16(x: f32) -> f32 { return d_bf16_from_bits(d_bf16_bits(x)); }`,
    ["d_bf16_bits", "d_bf16_from_bits"],
  ],
  d_threefry: [threefrySource(), []],
};

/**
 * The WGSL text of the named helpers and everything they call, each once, dependencies first.
 *
 * @example
 * ```ts
 * import { helperSource } from "./wgsl_helpers.ts";
 * helperSource(["d_log"]).includes("fn d_isnan"); // true
 * ```
 */
export function helperSource(names: Iterable<string>): string {
  const out: string[] = [prelude];
  const done = new Set<string>();
  const visit = (name: string): void => {
    if (done.has(name)) return;
    done.add(name);
    const entry = helpers[name];
    if (!entry) throw new Error(`Internal: unknown WGSL helper ${name}`);
    for (const dep of entry[1]) visit(dep);
    out.push(entry[0]);
  };
  for (const name of names) visit(name);
  return out.join("\n");
}
