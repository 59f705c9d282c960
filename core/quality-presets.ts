/**
 * The quality presets, one row each: what the session's xpra server, Firefox inside it and
 * xpra's HTML5 client do differently for it. Chosen for weak clients; the effect of each choice
 * is measured by `npm run bench` (bench/results/). The native client's own options are the
 * client's (client/src/xpra-command.ts): it runs on the device and imports nothing from here.
 */
import type { Quality } from './catalog.js';

export interface QualityPreset {
  /** xpra server options, appended to the session's xpra command line. */
  xpraServer: string[];
  /** The xpra server's environment: its batching of screen updates has no command-line option (`updateFloor`). */
  xpraEnvironment: Record<string, string>;
  /**
   * Firefox (the image's start-app script): `scrollbars`, since xpra's scroll detection compares
   * whole pixel rows and a moving scrollbar thumb makes every row it spans look changed
   * (scrolling with wheel, touch or keys is unaffected). Firefox paints at the display's rate in
   * every preset: at a lower `layout.frame_rate` an input waited for its next refresh.
   */
  firefox: { scrollbars: boolean };
  /** Query parameters of the HTML5 client's URL (3.1 honours `encoding` only with `video=false`). */
  html5Client: Record<string, string>;
  /**
   * The largest screen a client gets, WIDTHxHEIGHT (the image's entrypoint). Xvfb holds a
   * framebuffer of this size in each session's memory from its start, 4 bytes a pixel
   * (bench/results/idle-memory-ab-2026-12-05.md). A client with a larger screen shows the
   * session's windows at this size.
   */
  maxScreen: `${number}x${number}`;
}

/**
 * xpra's environment for at most one update every `ms` of a window that keeps changing. With
 * `XPRA_BATCH_ALWAYS=1`, `XPRA_BATCH_MIN_DELAY` is a floor of xpra's batch delay (without it, the
 * delay falls to nothing on a fast link and every frame Firefox paints is sent), and xpra sends a
 * held update after `XPRA_BATCH_EXPIRE_DELAY` at the latest: both are the floor. The first update
 * after a pause goes at once (xpra discounts the time since its last one).
 */
function updateFloor(ms: number): Record<string, string> {
  return { XPRA_BATCH_ALWAYS: '1', XPRA_BATCH_MIN_DELAY: String(ms), XPRA_BATCH_EXPIRE_DELAY: String(ms) };
}

/**
 * Video for the native client only (xpra 3.1's HTML5 client decodes none): H.264, which every
 * native client decodes. xpra loads each encoder it may use at its start, each in every session's
 * memory (bench/results/idle-memory-ab-2026-12-05.md).
 */
const NATIVE_CLIENT_VIDEO = '--video-encoders=x264';

/**
 * `low` and `auto` bound their bandwidth on xpra's side, by how often it sends a window that keeps
 * changing, not by Firefox's frame rate: a key press or a click then shows on Firefox's next frame,
 * sent at once (bench/results/auto-display-rate-ab-2026-12-05.md).
 * `low`: JPEG only (cheap to decode, no video decoder needed), low quality at high speed,
 * bandwidth capped at 1 Mbit/s, at most 12 updates a second, no scrollbars.
 * `auto`: at most 20 updates a second; changes go at quality 70 and the region is sent again
 * lossless once it settles (xpra's auto-refresh). The encoder speed is held at 30: left to adapt,
 * it reaches 100 on a fast link, where xpra 3.1 sends the strips a scroll brings into view as raw
 * pixels (and PNG without compression); at 30 they go as WebP and compressed PNG, for a little
 * more server CPU (bench/results/auto-speed-ab-2026-12-04.md).
 * `high`: lossy encodings kept near lossless, slower encoding allowed, every frame Firefox paints,
 * and the largest screens.
 */
export const QUALITY_PRESETS: Record<Quality, QualityPreset> = {
  low: {
    xpraServer: [
      '--encodings=jpeg,png,rgb',
      '--encoding=jpeg',
      '--quality=30',
      '--min-quality=10',
      '--speed=90',
      '--min-speed=50',
      '--video-encoders=none',
      '--bandwidth-limit=1000000',
    ],
    xpraEnvironment: updateFloor(80),
    firefox: { scrollbars: false },
    html5Client: { video: 'false', encoding: 'jpeg' },
    maxScreen: '1920x1080',
  },
  auto: {
    xpraServer: ['--speed=30', '--quality=70', NATIVE_CLIENT_VIDEO],
    xpraEnvironment: updateFloor(50),
    firefox: { scrollbars: true },
    html5Client: {},
    maxScreen: '2560x1600',
  },
  high: {
    xpraServer: ['--quality=90', '--min-quality=60', '--speed=30', NATIVE_CLIENT_VIDEO],
    xpraEnvironment: {},
    firefox: { scrollbars: true },
    html5Client: {},
    maxScreen: '3840x2160',
  },
};
