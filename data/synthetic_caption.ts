/**
 * Captions for synthetic clips, written from their parameters in the style of DropletVideo-10M's
 * captions: one long paragraph (about 120-200 words) that describes the scene, then what the
 * camera does and how the objects move over time, then how the view has changed by the end.
 * Every motion statement is true of the rendered clip.
 *
 * @module
 */
import { hash32 } from "./hash.ts";
import type { ClipSpec, MovingObject } from "./synthetic.ts";
import { palettes } from "./synthetic.ts";

/**
 * Which way an orbit clip circles its subject: "left" when the far layer slides right.
 *
 * @example
 * ```ts ignore
 * import { orbitDirection } from "./synthetic_caption.ts";
 * orbitDirection(spec); // "left" | "right"
 * ```
 */
export function orbitDirection(spec: ClipSpec): "left" | "right" {
  return spec.seed % 2 === 0 ? "left" : "right";
}

const speedWords = { slow: "slowly", medium: "steadily", fast: "quickly" } as const;

function direction(o: MovingObject): string {
  const angle = Math.atan2(o.vy, o.vx) * 180 / Math.PI; // y down: positive = downward
  const names = [
    "to the right",
    "down and to the right",
    "downward",
    "down and to the left",
    "to the left",
    "up and to the left",
    "upward",
    "up and to the right",
  ];
  return names[((Math.round(angle / 45) % 8) + 8) % 8]!;
}

function objectPhrase(o: MovingObject): string {
  const noun = o.shape === "disc" ? "circle" : "square";
  return `a ${o.colorName} ${noun} with faint diagonal stripes`;
}

function cameraSentence(spec: ClipSpec): string {
  const how = speedWords[spec.speed];
  switch (spec.camera) {
    case "static":
      return "The camera remains completely still throughout, holding a fixed, steady view of the scene";
    case "pan_left":
      return `The camera pans ${how} to the left, so the textured background slides toward the right edge of the frame`;
    case "pan_right":
      return `The camera pans ${how} to the right, so the textured background slides toward the left edge of the frame`;
    case "tilt_up":
      return `The camera tilts ${how} upward, and the background drifts down through the frame`;
    case "tilt_down":
      return `The camera tilts ${how} downward, and the background drifts up through the frame`;
    case "zoom_in":
      return `The camera zooms in ${how}, and the patterns of the background grow larger as the view narrows toward the center`;
    case "zoom_out":
      return `The camera zooms out ${how}, and the patterns of the background shrink as more of the surface comes into view`;
    case "roll_cw":
      return `The camera rolls ${how} clockwise, so the whole scene appears to turn counter-clockwise around the center of the frame`;
    case "roll_ccw":
      return `The camera rolls ${how} counter-clockwise, so the whole scene appears to turn clockwise around the center of the frame`;
    case "orbit":
      return `The camera ${how} orbits to the ${
        orbitDirection(spec)
      } around the subject, which stays at the center while the distant backdrop and the ground in front of it slide past in opposite directions`;
  }
}

/**
 * A DropletVideo-style long caption for a synthetic clip spec.
 *
 * @example
 * ```ts
 * import { captionFor } from "./synthetic_caption.ts";
 * import { randomClipSpec } from "./synthetic.ts";
 * captionFor(randomClipSpec(1, { camera: "pan_left" })).includes("pans"); // true
 * ```
 */
export function captionFor(spec: ClipSpec): string {
  const palette = palettes[spec.palette]!;
  const seconds = (spec.frames / spec.fps).toFixed(1);
  const parts: string[] = [];
  const openers = ["The video opens on", "The video begins with", "The clip shows"];
  parts.push(
    `${
      openers[hash32(spec.seed, 1) % openers.length]
    } an abstract landscape of mottled ${palette.words} ` +
      `textures, soft and cloud-like, that fill the entire frame like a richly patterned ${palette.name} surface.`,
  );
  if (spec.camera === "orbit") {
    const subject = spec.objects[0];
    const what = subject ? objectPhrase({ ...subject, shape: "disc" }) : "a round shape";
    parts.push(
      `In the middle of the frame stands ${what}, large and sharply outlined, with a band of differently ` +
        `coloured ground running along the bottom of the view.`,
    );
  } else if (spec.objects.length > 0) {
    const list = spec.objects.map((o) => `${objectPhrase(o)} that moves ${direction(o)}`);
    parts.push(
      `Against this backdrop, ${list.length === 1 ? "there is " : "there are "}${
        list.join(", and ")
      }, ` +
        `each keeping its shape and color as it travels.`,
    );
  }
  parts.push(`${cameraSentence(spec)}.`);
  parts.push(
    `Over the ${seconds} seconds of the clip the motion is smooth and continuous, without cuts, ` +
      `flicker or changes in lighting, and the colors stay consistent from the first frame to the last.`,
  );
  const ending = spec.camera === "static"
    ? "By the end, the background is exactly as it was at the start, and only the objects have changed position."
    : spec.camera.startsWith("zoom")
    ? `By the end, the view is ${
      spec.camera === "zoom_in"
        ? "much closer, filled with fewer, larger"
        : "much wider, showing many smaller"
    } patches of texture.`
    : "By the end, a different part of the textured scene occupies the frame, while its style and palette remain unchanged.";
  parts.push(ending);
  parts.push(
    "The overall atmosphere is calm and abstract, with an even, diffuse light and no visible text, people or sound.",
  );
  return parts.join(" ");
}
