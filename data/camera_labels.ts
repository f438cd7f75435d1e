/**
 * Camera-motion class names shared by the synthetic corpus and the curation classifier, with the
 * screen-space convention that links them (image y points down):
 *
 * | label        | camera does                  | content on screen (optical flow)        |
 * | ------------ | ---------------------------- | --------------------------------------- |
 * | `pan_left`   | turns / moves left           | moves right (u > 0)                     |
 * | `pan_right`  | turns / moves right          | moves left (u < 0)                      |
 * | `tilt_up`    | turns up                     | moves down (v > 0)                      |
 * | `tilt_down`  | turns down                   | moves up (v < 0)                        |
 * | `zoom_in`    | narrows its field of view    | expands from the centre (divergence > 0) |
 * | `zoom_out`   | widens its field of view     | contracts (divergence < 0)              |
 * | `roll_cw`    | rolls clockwise              | turns counter-clockwise                 |
 * | `roll_ccw`   | rolls counter-clockwise      | turns clockwise                         |
 * | `orbit`      | circles a subject            | parallax: far and near layers move in opposite directions, the subject stays |
 * | `static`     | holds still                  | only objects move                       |
 *
 * The names follow VBench++'s camera-motion labels where they exist (`pan_left`, `zoom_in`, ...).
 *
 * @module
 */

/** A camera-motion class. */
export type CameraMotion =
  | "static"
  | "pan_left"
  | "pan_right"
  | "tilt_up"
  | "tilt_down"
  | "zoom_in"
  | "zoom_out"
  | "roll_cw"
  | "roll_ccw"
  | "orbit";

/** All classes, in a fixed order. */
export const cameraMotions: readonly CameraMotion[] = [
  "static",
  "pan_left",
  "pan_right",
  "tilt_up",
  "tilt_down",
  "zoom_in",
  "zoom_out",
  "roll_cw",
  "roll_ccw",
  "orbit",
];

/**
 * Whether a string is a camera-motion class.
 *
 * @example
 * ```ts
 * import { isCameraMotion } from "./camera_labels.ts";
 * isCameraMotion("pan_left"); // true
 * ```
 */
export function isCameraMotion(value: unknown): value is CameraMotion {
  return typeof value === "string" && (cameraMotions as readonly string[]).includes(value);
}
