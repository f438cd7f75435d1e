/**
 * The synthetic camera-motion corpus: procedurally rendered clips with known camera motion
 * (pan, tilt, zoom, roll, orbit, static; slow, medium or fast) and known object motion, captions
 * written from those parameters in DropletVideo's long-caption style, encoded as real mp4 files
 * with metadata rows in the clip schema. Every clip is a pure function of its {@linkcode ClipSpec},
 * and specs are pure functions of (seed, index), so a corpus is reproducible from its seed.
 *
 * Geometry: lengths are in frame widths (resolution independent). A pixel at screen offset `s`
 * from the frame centre sees the world point `c(t) + R(θ(t)) s / z(t)` (camera position `c`,
 * roll `θ`, zoom `z`); the background is multi-octave value noise coloured by a palette, and
 * objects are striped discs or squares moving in world coordinates. Orbit clips are layered
 * instead: a far layer and a near ground band slide in opposite directions behind and in front of
 * a subject that stays centred (parallax). Conventions of the labels: `camera_labels.ts`.
 *
 * @module
 */
import { type CameraMotion, cameraMotions } from "./camera_labels.ts";
import { ClipWriter } from "./clip_writer.ts";
import { concatFrames, type Frames } from "./frames.ts";
import { foldKey, hash32, type Key, randomInt, uniform } from "./hash.ts";
import type { ClipRow } from "./schema.ts";
import { captionFor, orbitDirection } from "./synthetic_caption.ts";
import { encode } from "./video.ts";

/** Camera speed class. */
export type Speed = "slow" | "medium" | "fast";

/** A moving object, in world coordinates (frame widths, origin at the frame-0 centre). */
export interface MovingObject {
  shape: "disc" | "square";
  colorName: string;
  color: readonly [number, number, number];
  /** Radius (half side for squares), frame widths. */
  radius: number;
  /** Position at frame 0. */
  x: number;
  y: number;
  /** Velocity, frame widths per frame. */
  vx: number;
  vy: number;
}

/** Everything that determines a synthetic clip. */
export interface ClipSpec {
  seed: number;
  width: number;
  height: number;
  frames: number;
  fps: number;
  camera: CameraMotion;
  speed: Speed;
  /** Index into {@linkcode palettes}. */
  palette: number;
  objects: MovingObject[];
}

/** Background palettes: three colours and the words captions use for them. */
export const palettes: readonly {
  name: string;
  words: string;
  colors: readonly (readonly [number, number, number])[];
}[] = [
  {
    name: "meadow",
    words: "green and golden",
    colors: [[34, 96, 40], [120, 170, 60], [230, 210, 90]],
  },
  {
    name: "desert",
    words: "sandy orange and brown",
    colors: [[120, 70, 30], [210, 150, 80], [245, 220, 160]],
  },
  {
    name: "ocean",
    words: "deep blue and turquoise",
    colors: [[10, 40, 110], [30, 120, 170], [150, 220, 230]],
  },
  {
    name: "autumn",
    words: "crimson, amber and brown",
    colors: [[110, 20, 20], [220, 110, 30], [250, 200, 80]],
  },
  {
    name: "stone",
    words: "grey and slate",
    colors: [[40, 40, 45], [120, 120, 125], [210, 210, 205]],
  },
  {
    name: "dusk",
    words: "violet, pink and indigo",
    colors: [[40, 20, 80], [150, 60, 140], [250, 160, 180]],
  },
];

const objectColors: readonly { name: string; rgb: readonly [number, number, number] }[] = [
  { name: "red", rgb: [220, 30, 30] },
  { name: "white", rgb: [245, 245, 245] },
  { name: "black", rgb: [15, 15, 15] },
  { name: "yellow", rgb: [250, 220, 20] },
  { name: "cyan", rgb: [20, 220, 230] },
  { name: "magenta", rgb: [230, 30, 200] },
];

/** Camera rates by speed: translation (widths/frame), zoom (factor - 1 per frame), roll (rad/frame). */
export const cameraRates: Readonly<Record<Speed, { move: number; zoom: number; roll: number }>> = {
  slow: { move: 0.015, zoom: 0.02, roll: 0.018 },
  medium: { move: 0.03, zoom: 0.035, roll: 0.035 },
  fast: { move: 0.05, zoom: 0.05, roll: 0.052 },
};

const speeds: readonly Speed[] = ["slow", "medium", "fast"];

/** Options of {@linkcode randomClipSpec}. */
export interface SpecOptions {
  width?: number;
  height?: number;
  frames?: number;
  fps?: number;
  /** Fixed camera motion; chosen by the key when omitted. */
  camera?: CameraMotion;
  speed?: Speed;
}

/**
 * A random clip spec drawn from `key` (64x64, 24 frames at 8 fps by default).
 *
 * @example
 * ```ts
 * import { randomClipSpec } from "./synthetic.ts";
 * const spec = randomClipSpec(3, { camera: "pan_left" });
 * spec.camera; // "pan_left"
 * ```
 */
export function randomClipSpec(key: Key, options: SpecOptions = {}): ClipSpec {
  const { width = 64, height = 64, frames = 24, fps = 8 } = options;
  const camera = options.camera ?? cameraMotions[randomInt(key, 0, cameraMotions.length)]!;
  const speed = options.speed ?? speeds[randomInt(key, 1, speeds.length)]!;
  const count = 1 + randomInt(key, 2, 2);
  const objects: MovingObject[] = [];
  for (let i = 0; i < count; i++) {
    const k = foldKey(key, 100 + i);
    const color = objectColors[randomInt(k, 0, objectColors.length)]!;
    const angle = 2 * Math.PI * uniform(k, 1);
    const speedObj = 0.004 + 0.012 * uniform(k, 2);
    objects.push({
      shape: uniform(k, 3) < 0.5 ? "disc" : "square",
      colorName: color.name,
      color: color.rgb,
      radius: 0.06 + 0.04 * uniform(k, 4),
      x: (uniform(k, 5) - 0.5) * 0.6,
      y: (uniform(k, 6) - 0.5) * 0.6 * (height / width),
      vx: speedObj * Math.cos(angle),
      vy: speedObj * Math.sin(angle),
    });
  }
  return {
    seed: hash32(key, 3),
    width,
    height,
    frames,
    fps,
    camera,
    speed,
    palette: randomInt(key, 4, palettes.length),
    objects,
  };
}

function lattice(seed: number, ix: number, iy: number): number {
  return hash32(hash32(seed, ix + 1_000_000), iy + 1_000_000) / 4294967296;
}

function valueNoise(seed: number, x: number, y: number): number {
  const ix = Math.floor(x), iy = Math.floor(y);
  const fx = x - ix, fy = y - iy;
  const sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy);
  const a = lattice(seed, ix, iy), b = lattice(seed, ix + 1, iy);
  const c = lattice(seed, ix, iy + 1), d = lattice(seed, ix + 1, iy + 1);
  return a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy;
}

/** Fractal value noise in [0, 1) at world point (x, y); features from 1/6 to 1/48 width. */
function fbm(seed: number, x: number, y: number): number {
  let sum = 0, amp = 0.5, freq = 6, norm = 0;
  for (let octave = 0; octave < 4; octave++) {
    sum += amp * valueNoise(seed + octave * 7919, x * freq, y * freq);
    norm += amp;
    amp *= 0.55;
    freq *= 2;
  }
  return sum / norm;
}

function paletteColor(palette: number, v: number, out: Float64Array): void {
  const colors = palettes[palette]!.colors;
  const t = Math.min(Math.max((v - 0.25) * 2, 0), 0.999) * (colors.length - 1);
  const i = Math.floor(t), f = t - i;
  const a = colors[i]!, b = colors[i + 1]!;
  for (let ch = 0; ch < 3; ch++) out[ch] = a[ch]! + (b[ch]! - a[ch]!) * f;
}

/** The camera pose at frame t: position, roll and zoom. */
function pose(spec: ClipSpec, t: number): { cx: number; cy: number; theta: number; zoom: number } {
  const r = cameraRates[spec.speed];
  const p = { cx: 0, cy: 0, theta: 0, zoom: 1 };
  switch (spec.camera) {
    case "pan_left":
      p.cx = -r.move * t;
      break;
    case "pan_right":
      p.cx = r.move * t;
      break;
    case "tilt_up":
      p.cy = -r.move * t;
      break;
    case "tilt_down":
      p.cy = r.move * t;
      break;
    case "zoom_in":
      p.zoom = (1 + r.zoom) ** t;
      break;
    case "zoom_out":
      p.zoom = (1 + r.zoom) ** -t;
      break;
    case "roll_cw":
      p.theta = r.roll * t;
      break;
    case "roll_ccw":
      p.theta = -r.roll * t;
      break;
    case "static":
    case "orbit":
      break;
  }
  return p;
}

function objectShade(o: MovingObject, dx: number, dy: number): number {
  const inside = o.shape === "disc"
    ? dx * dx + dy * dy < o.radius * o.radius
    : Math.abs(dx) < o.radius && Math.abs(dy) < o.radius;
  if (!inside) return -1;
  return 0.7 + 0.3 * Math.sin((2 * Math.PI * (dx + 0.5 * dy)) / (o.radius * 0.9));
}

/**
 * Renders a clip spec to uint8 frames [T, H, W, 3].
 *
 * @example
 * ```ts
 * import { randomClipSpec, renderClip } from "./synthetic.ts";
 * const frames = renderClip(randomClipSpec(1, { frames: 4, width: 32, height: 32 }));
 * frames.shape; // [4, 32, 32, 3]
 * ```
 */
export function renderClip(spec: ClipSpec): Frames {
  const { width: w, height: h, frames: t } = spec;
  const data = new Uint8Array(t * h * w * 3);
  const rgb = new Float64Array(3);
  const rate = cameraRates[spec.speed].move;
  const orbitSign = orbitDirection(spec) === "left" ? 1 : -1;
  for (let f = 0; f < t; f++) {
    const p = pose(spec, f);
    const cos = Math.cos(p.theta), sin = Math.sin(p.theta);
    for (let y = 0; y < h; y++) {
      const sy = (y + 0.5 - h / 2) / w;
      for (let x = 0; x < w; x++) {
        const sx = (x + 0.5 - w / 2) / w;
        const o = ((f * h + y) * w + x) * 3;
        if (spec.camera === "orbit") {
          renderOrbitPixel(spec, f, sx, sy, rate * orbitSign, rgb);
        } else {
          const wx = p.cx + (cos * sx - sin * sy) / p.zoom;
          const wy = p.cy + (sin * sx + cos * sy) / p.zoom;
          paletteColor(spec.palette, fbm(spec.seed, wx, wy), rgb);
          for (const obj of spec.objects) {
            const shade = objectShade(obj, wx - (obj.x + obj.vx * f), wy - (obj.y + obj.vy * f));
            if (shade >= 0) { for (let c = 0; c < 3; c++) rgb[c] = obj.color[c]! * shade; }
          }
        }
        for (let c = 0; c < 3; c++) data[o + c] = Math.max(0, Math.min(255, Math.round(rgb[c]!)));
      }
    }
  }
  return { data, shape: [t, h, w, 3] };
}

/** Orbit: far layer slides +v, near ground band slides -1.5 v, the centred subject stays. */
function renderOrbitPixel(
  spec: ClipSpec,
  f: number,
  sx: number,
  sy: number,
  v: number,
  rgb: Float64Array,
): void {
  const subject = spec.objects[0];
  if (subject) {
    const shade = objectShade({ ...subject, shape: "disc", radius: 0.2 }, sx, sy - 0.02);
    if (shade >= 0) {
      for (let c = 0; c < 3; c++) rgb[c] = subject.color[c]! * shade;
      return;
    }
  }
  const ground = sy > 0.18 * (spec.height / spec.width);
  if (ground) {
    paletteColor(
      (spec.palette + 3) % palettes.length,
      fbm(spec.seed + 1, sx + 1.5 * v * f, sy),
      rgb,
    );
  } else paletteColor(spec.palette, fbm(spec.seed, sx - v * f, sy), rgb);
}

/**
 * Renders several specs one after another: a multi-shot clip with hard cuts between them.
 *
 * @example
 * ```ts
 * import { randomClipSpec, renderShots } from "./synthetic.ts";
 * const opts = { frames: 3, width: 16, height: 16 };
 * renderShots([randomClipSpec(1, opts), randomClipSpec(2, opts)]).shape; // [6, 16, 16, 3]
 * ```
 */
export function renderShots(specs: readonly ClipSpec[]): Frames {
  return concatFrames(specs.map(renderClip));
}

/** Options of {@linkcode generateCorpus}. */
export interface CorpusOptions extends Omit<SpecOptions, "camera"> {
  /** Number of clips. */
  count: number;
  /** Corpus seed. */
  seed: number;
  /** Camera motions to cycle through (clip i gets `cameras[i % length]`); all by default. */
  cameras?: readonly CameraMotion[];
  /** N for the metadata's M column; 16 by default (synthetic clips are short). */
  magN?: number;
  /** Write the metadata shards too (default true). */
  writeMetadata?: boolean;
}

/** A generated corpus: its rows (with mp4 paths), specs and metadata shards. */
export interface Corpus {
  rows: ClipRow[];
  specs: ClipSpec[];
  shards: string[];
}

/**
 * Renders `count` clips to `outDir/clip-00000.mp4`, ... and writes their metadata rows (Parquet
 * shards `outDir/clips-*.parquet`) and specs (`outDir/specs.jsonl`, the ground truth).
 *
 * @example
 * ```ts ignore
 * import { generateCorpus } from "./synthetic.ts";
 * const { rows } = await generateCorpus("out/synth", { count: 20, seed: 1 });
 * rows[0].cameraMotion; // "static"
 * ```
 */
export async function generateCorpus(outDir: string, options: CorpusOptions): Promise<Corpus> {
  const { count, seed, cameras = cameraMotions, magN = 16, writeMetadata = true } = options;
  await Deno.mkdir(outDir, { recursive: true });
  const rows: ClipRow[] = [], specs: ClipSpec[] = [];
  for (let i = 0; i < count; i++) {
    const spec = randomClipSpec(foldKey(seed, i), {
      ...options,
      camera: cameras[i % cameras.length]!,
    });
    const path = `${outDir}/clip-${String(i).padStart(5, "0")}.mp4`;
    await encode(renderClip(spec), path, { fps: spec.fps });
    specs.push(spec);
    const rate = cameraRates[spec.speed];
    const nominal = spec.camera === "static"
      ? 0
      : spec.camera.startsWith("zoom")
      ? rate.zoom * spec.width / 2
      : spec.camera.startsWith("roll")
      ? rate.roll * spec.width / 2
      : rate.move * spec.width;
    rows.push({
      clipId: `synthetic-${seed}--${String(i).padStart(6, "0")}`,
      url: `synthetic://${seed}/${i}`,
      fps: spec.fps,
      startFrame: 0,
      endFrame: spec.frames,
      frameCount: spec.frames,
      duration: spec.frames / spec.fps,
      qualityScore: 5,
      caption: captionFor(spec),
      aestheticScore: null,
      motionMean: nominal,
      cameraMotion: spec.camera,
      m: (magN * spec.fps) / spec.frames,
      path,
    });
  }
  await Deno.writeTextFile(
    `${outDir}/specs.jsonl`,
    specs.map((s) => JSON.stringify(s)).join("\n") + "\n",
  );
  let shards: string[] = [];
  if (writeMetadata) {
    const writer = await ClipWriter.create(outDir, { magN });
    for (const row of rows) await writer.write(row);
    shards = await writer.close();
  }
  return { rows, specs, shards };
}
