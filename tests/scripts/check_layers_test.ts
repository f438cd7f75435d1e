import { assertEquals } from "../_assert.ts";
import { violations } from "../../scripts/check_layers.ts";

Deno.test("check_layers flags an upward import from kernels into autograd", () => {
  const found = violations("kernels/webgpu/x.ts", `import { grad } from "../../autograd/grad.ts";`);
  assertEquals(found.length, 1);
});

Deno.test("check_layers accepts downward imports and npm packages", () => {
  const source = `import { a } from "../kernels/ir.ts";\nimport fc from "fast-check";\n` +
    `export { b } from "./local.ts";`;
  assertEquals(violations("autograd/x.ts", source), []);
});

Deno.test("check_layers forbids data from importing models", () => {
  assertEquals(violations("data/x.ts", `import { m } from "../models/mod.ts";`).length, 1);
});
