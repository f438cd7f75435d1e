/**
 * Video IO through ffmpeg: probe a file, decode a frame range to [T, H, W, 3] RGB frames
 * (optionally resized and centre-cropped to a bucket size), and encode frames to mp4 (H.264,
 * yuv420p) or gif. Decoding runs ffmpeg at `-v error` and treats any error output as a failure,
 * so a corrupt or truncated file is an error naming the file, never a silently short clip.
 *
 * @module
 */
import { runFfmpeg } from "./ffmpeg.ts";
import { type FloatFrames, type Frames, makeFrames, toFloat } from "./frames.ts";

/** Stream facts of a video file. */
export interface VideoInfo {
  width: number;
  height: number;
  /** Frames per second of the video stream (ffmpeg's `fps`, else `tbr`). */
  fps: number;
  /** Seconds, from the container; null when unknown. */
  duration: number | null;
}

function lastLines(text: string, n = 4): string {
  return text.trim().split("\n").slice(-n).join(" | ");
}

/**
 * Reads width, height, fps and duration of a video file; throws naming the file when it is
 * missing, corrupt or has no video stream.
 *
 * @example
 * ```ts ignore
 * import { probe } from "./video.ts";
 * const { width, height, fps } = await probe("clip.mp4");
 * ```
 */
export async function probe(path: string): Promise<VideoInfo> {
  const { stderr } = await runFfmpeg(["-hide_banner", "-nostdin", "-i", path]);
  const stream = stderr.split("\n").find((l) => /Stream #\d+:\d+.*: Video:/.test(l));
  if (!stream) {
    throw new Error(`Cannot read video ${path}: ${lastLines(stderr)}`);
  }
  const size = /,\s*(\d+)x(\d+)[\s,[]/.exec(stream);
  const rate = /,\s*([\d.]+)\s*fps/.exec(stream) ?? /,\s*([\d.]+)k?\s*tbr/.exec(stream);
  if (!size || !rate) throw new Error(`Cannot parse the video stream of ${path}: ${stream.trim()}`);
  const d = /Duration:\s*(\d+):(\d+):([\d.]+)/.exec(stderr);
  return {
    width: Number(size[1]),
    height: Number(size[2]),
    fps: Number(rate[1]),
    duration: d ? Number(d[1]) * 3600 + Number(d[2]) * 60 + Number(d[3]) : null,
  };
}

/** Options of {@linkcode decode}. */
export interface DecodeOptions {
  /** First frame (inclusive); 0 by default. */
  start?: number;
  /** End frame (exclusive); the end of the video by default. Must exist in the file. */
  end?: number;
  /** Resize to cover this size, then centre-crop to it (a training bucket). */
  size?: { width: number; height: number };
  /** "uint8" (default) or "float32" (values / 255). */
  dtype?: "uint8" | "float32";
}

/** Decoded frames and the source frame rate. */
export interface Decoded<F> {
  frames: F;
  fps: number;
}

/**
 * Decodes frames [start, end) of a video to RGB frames [T, H, W, 3].
 *
 * @example
 * ```ts ignore
 * import { decode } from "./video.ts";
 * const { frames, fps } = await decode("clip.mp4", { start: 10, end: 20 });
 * frames.shape; // [10, H, W, 3]
 * ```
 */
export async function decode(
  path: string,
  options: DecodeOptions & { dtype: "float32" },
): Promise<Decoded<FloatFrames>>;
export async function decode(
  path: string,
  options?: DecodeOptions & { dtype?: "uint8" },
): Promise<Decoded<Frames>>;
export async function decode(
  path: string,
  options: DecodeOptions = {},
): Promise<Decoded<Frames | FloatFrames>> {
  const { start = 0, end, size, dtype = "uint8" } = options;
  if (!Number.isInteger(start) || start < 0) {
    throw new RangeError(`decode(${path}): start must be an integer >= 0, got ${start}`);
  }
  if (end !== undefined && (!Number.isInteger(end) || end <= start)) {
    throw new RangeError(`decode(${path}): end must be an integer > start (${start}), got ${end}`);
  }
  const info = await probe(path);
  const filters: string[] = [];
  if (start > 0 || end !== undefined) {
    filters.push(`trim=start_frame=${start}${end !== undefined ? `:end_frame=${end}` : ""}`);
    filters.push("setpts=PTS-STARTPTS");
  }
  let width = info.width, height = info.height;
  if (size) {
    width = size.width;
    height = size.height;
    if (!(width > 0 && height > 0 && Number.isInteger(width) && Number.isInteger(height))) {
      throw new RangeError(`decode(${path}): bad size ${width}x${height}`);
    }
    filters.push(`scale=${width}:${height}:force_original_aspect_ratio=increase`);
    filters.push(`crop=${width}:${height}`);
  }
  const args = ["-hide_banner", "-nostdin", "-v", "error", "-i", path];
  if (filters.length > 0) args.push("-vf", filters.join(","));
  args.push("-vsync", "0", "-an", "-f", "rawvideo", "-pix_fmt", "rgb24", "-");
  const { code, stdout, stderr } = await runFfmpeg(args);
  if (code !== 0 || stderr.trim() !== "") {
    throw new Error(`Cannot decode ${path} (ffmpeg exit ${code}): ${lastLines(stderr)}`);
  }
  const frameBytes = width * height * 3;
  if (stdout.length % frameBytes !== 0) {
    throw new Error(
      `Cannot decode ${path}: ${stdout.length} bytes is not a whole number of ${width}x${height} frames`,
    );
  }
  const t = stdout.length / frameBytes;
  if (end !== undefined && t !== end - start) {
    throw new RangeError(
      `${path} has ${t} frames from frame ${start}, fewer than the ${
        end - start
      } of [${start}, ${end})`,
    );
  }
  if (t === 0) throw new RangeError(`${path} has no frames from frame ${start}`);
  const frames = makeFrames(stdout, t, height, width);
  return { frames: dtype === "float32" ? toFloat(frames) : frames, fps: info.fps };
}

/** Options of {@linkcode encode}. */
export interface EncodeOptions {
  /** Frame rate written to the file. */
  fps: number;
  /** H.264 constant rate factor for mp4 (lower = better); 17 by default (near-lossless). */
  crf?: number;
}

/**
 * Encodes uint8 frames [T, H, W, 3] to `path`: `.mp4` (H.264, yuv420p; H and W must be even) or
 * `.gif` (palette per clip).
 *
 * @example
 * ```ts ignore
 * import { encode } from "./video.ts";
 * import { makeFrames } from "./frames.ts";
 * await encode(makeFrames(new Uint8Array(8 * 32 * 32 * 3), 8, 32, 32), "out/x.mp4", { fps: 8 });
 * ```
 */
export async function encode(frames: Frames, path: string, options: EncodeOptions): Promise<void> {
  const [t, h, w] = frames.shape;
  const { fps, crf = 17 } = options;
  if (!(fps > 0)) throw new RangeError(`encode(${path}): fps must be > 0, got ${fps}`);
  if (t < 1) throw new RangeError(`encode(${path}): no frames to encode`);
  const input = [
    "-hide_banner",
    "-nostdin",
    "-v",
    "error",
    "-y",
    "-f",
    "rawvideo",
    "-pix_fmt",
    "rgb24",
    "-s",
    `${w}x${h}`,
    "-r",
    String(fps),
    "-i",
    "-",
  ];
  let output: string[];
  if (path.endsWith(".mp4")) {
    if (h % 2 !== 0 || w % 2 !== 0) {
      throw new RangeError(`encode(${path}): H.264 yuv420p needs even H and W, got ${h}x${w}`);
    }
    output = ["-c:v", "libx264", "-preset", "veryfast", "-crf", String(crf), "-pix_fmt", "yuv420p"];
  } else if (path.endsWith(".gif")) {
    output = ["-filter_complex", "[0:v]split[a][b];[a]palettegen[p];[b][p]paletteuse"];
  } else {
    throw new RangeError(`encode: unsupported extension in ${path} (use .mp4 or .gif)`);
  }
  const { code, stderr } = await runFfmpeg([...input, ...output, path], frames.data);
  if (code !== 0) {
    throw new Error(`Cannot encode ${path} (ffmpeg exit ${code}): ${lastLines(stderr)}`);
  }
}
