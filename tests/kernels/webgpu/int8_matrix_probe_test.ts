/**
 * The int8 subgroup-matrix probe (`int8_matrix_probe.ts`): that its products tell the offset and
 * stride conventions apart, that it names the one a device follows and nothing else, and that a
 * device without the feature gets no convention (so the int8 attention emulates its products).
 */
import { assert, assertEquals } from "../../_assert.ts";
import { sharedGpu } from "../../../kernels/webgpu/device.ts";
import {
  expectedInt8Product,
  identifyInt8Units,
  int8MatrixConventions,
  int8ProbeBytes,
  int8ProbeOperands,
  int8ProbePlacement,
  probeInt8MatrixUnits,
} from "../../../kernels/webgpu/int8_matrix_probe.ts";

const { a, b } = int8ProbeOperands();
const productsOf = (
  units: (typeof int8MatrixConventions)[number],
  other = units,
) => ({
  col_major: expectedInt8Product(units, "col_major", a, b),
  row_major: expectedInt8Product(other, "row_major", a, b),
});

Deno.test("int8 probe: every convention gives a different product in both layouts", () => {
  for (const layout of ["col_major", "row_major"] as const) {
    const seen = new Set<string>();
    for (const units of int8MatrixConventions) {
      seen.add(expectedInt8Product(units, layout, a, b).join(","));
    }
    assertEquals(seen.size, int8MatrixConventions.length, `${layout} products collide`);
  }
});

Deno.test("int8 probe: the farthest element of any convention lies inside the operands", () => {
  const { offsetA, strideA, offsetB, strideB } = int8ProbePlacement;
  const farthest = Math.max(
    4 * offsetA + 15 * 4 * strideA + 31,
    4 * offsetB + 31 * 4 * strideB + 15,
  );
  assert(farthest < int8ProbeBytes, `element ${farthest} of ${int8ProbeBytes} bytes`);
});

Deno.test("int8 probe: identifies each convention from its products, and only it", () => {
  for (const units of int8MatrixConventions) {
    const found = identifyInt8Units(productsOf(units), a, b);
    assertEquals(found.units, units, found.detail);
  }
  // The two layouts disagreeing, or a product no convention gives, identify nothing.
  const [words, elements] = [int8MatrixConventions[0]!, int8MatrixConventions[1]!];
  const mixed = identifyInt8Units(productsOf(words, elements), a, b);
  assertEquals(mixed.units, null);
  const zeros = identifyInt8Units(
    { col_major: new Int32Array(256), row_major: new Int32Array(256) },
    a,
    b,
  );
  assertEquals(zeros.units, null);
  assert(zeros.detail.includes("no known convention"), zeros.detail);
});

const gpu = await sharedGpu();

Deno.test({
  name: "int8 probe: a device without subgroup matrices gets no convention, and says why",
  ignore: gpu === null || gpu.info.features.includes("chromium-experimental-subgroup-matrix"),
  async fn() {
    const { units, detail } = await probeInt8MatrixUnits(gpu!);
    assertEquals(units, null);
    assert(detail.startsWith("the probe failed"), detail);
    assertEquals(gpu!.info.subgroupMatrixInt8, false);
    assertEquals(gpu!.info.int8MatrixUnits, null);
  },
});
