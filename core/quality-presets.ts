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
  /**
   * Firefox (the image's start-app script): `frameRate` (`layout.frame_rate`, 0: Firefox's own),
   * since every repaint becomes an update xpra encodes and sends; `scrollbars`, since xpra's
   * scroll detection compares whole pixel rows and a moving scrollbar thumb makes every row it
   * spans look changed (scrolling with wheel, touch or keys is unaffected).
   */
  firefox: { frameRate: number; scrollbars: boolean };
  /** Query parameters of the HTML5 client's URL (3.1 honours `encoding` only with `video=false`). */
  html5Client: Record<string, string>;
}

/**
 * `low`: JPEG only (cheap to decode, no video decoder needed), low quality at high speed,
 * bandwidth capped at 1 Mbit/s, fewer frames, no scrollbars. `auto`: xpra's adaptive quality at
 * a fixed encoder speed of 30: left to adapt, the speed reaches 100 on a fast link, where xpra 3.1
 * sends the strips a scroll brings into view as raw pixels (and PNG without compression); at 30 they
 * go as WebP and compressed PNG, for a little more server CPU.
 * `high`: lossy encodings kept near lossless, slower encoding allowed, Firefox's own frame rate.
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
    firefox: { frameRate: 12, scrollbars: false },
    html5Client: { video: 'false', encoding: 'jpeg' },
  },
  auto: { xpraServer: ['--speed=30'], firefox: { frameRate: 20, scrollbars: true }, html5Client: {} },
  high: { xpraServer: ['--quality=90', '--min-quality=60', '--speed=30'], firefox: { frameRate: 0, scrollbars: true }, html5Client: {} },
};
