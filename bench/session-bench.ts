/**
 * Session benchmarks against the real stack (the one the integration tests use: Redis, Temporal
 * dev server, Traefik, SQLite, a worker on the real Docker engine), plus a second worker with a
 * warm pool on a task queue of its own. Figures, not pass/fail:
 *
 * - warm start: POST /v1/sessions → 201 (ready) from the pool, at concurrency 1 and 5;
 * - API overhead: the same requests minus the time the claim activity spent on the container;
 * - cold start: the same measure with no pool, at concurrency 1 and 5, and the physical
 *   baseline in the same run: `docker run` of the session image until a Firefox window exists;
 * - end to end, warm and cold: POST /v1/sessions → the HTML5 client in Chromium shows the page
 *   (its colour read from the client's canvas), and the same after a reconnect in that browser
 *   (POST /v1/sessions/:id/connect → page shown, the client's bundle cached); the baselines: the
 *   HTML5 client opened directly against an already running container (no API, no ingress), with
 *   the image's bundled page and with xpra's page as shipped;
 * - memory of one idle session, and of N idle sessions; and N idle sessions with same-page merging
 *   beside N without, in the same minutes, with ksmd's CPU (bench/memory-merge.ts);
 * - input latency per quality preset, and for `auto` with 40 ms added to the round trip (a delay in
 *   the browser's tunnels; this kernel has no netem): a click on the streamed window or a key press
 *   → the first frame on the client's screen showing its effect. The probe
 *   (bench/client-probes.ts installInputProbe) takes the moment the browser delivers the input to
 *   the client's page, and the first `draw` of the client (the copy of the decoded updates to the
 *   window's on-screen canvas) after which the canvas shows bench/pages/input.html's other colour
 *   (the page flips its colour on every key and button press);
 * - per quality preset, while Firefox scrolls a long page (bench/pages/scroll.html) for 10 s at
 *   1280×720: bits per second the client received, frames per second it painted, the session
 *   container's CPU, and the time until the last update once scrolling stops (sharp again);
 * - CPU of idle sessions (nothing attached) inside their containers and what they add on the host,
 *   with the worker's session monitor 30 s after they were ready and again 3 minutes after (once
 *   Firefox's startup tasks are over: the rate until the connect deadline), and with `xpra
 *   info` polled every 5 s as the watcher per session did before it (the baseline, in the same run);
 * - growth: warm starts, memory per session and the host's CPU with 0, 10 and 20 idle sessions;
 * - watch capacity (bench/watch-capacity.ts): cold starts, the monitor's pass time and the worker's,
 *   the engine's and Temporal's load with 0 to 500 live stand-in sessions watched, against cold
 *   starts beside as many bare containers that nothing watches (the baseline, in the same run);
 * - the native client on a device (bench/client-bench.ts): its memory, CPU, bandwidth and frames
 *   while the same page scrolls, at a Raspberry Pi Zero 2 class budget and unconfined, and the
 *   wall time of `hackstream list` on Node 18.
 *
 * Each start and end-to-end sample, each preset's input latency and each scrolling window begins
 * on a quiet host (bench/host-cpu.ts untilHostQuiet): the pool's refill and the last sample's or
 * part's teardown are done, as on a host a user finds idle.
 *
 * Chromium runs in a network namespace of its own (bench/isolated-browser.ts). Prints a table and
 * writes bench/results/session-bench.{json,md}.
 *   npm run bench [-- --samples 20] [-- --only warm,cold,persist,e2e,memory,merge,growth,capacity,input,bandwidth,client] [-- --presets low,auto,high] [-- --capacity 0,100,250,500] [-- --ksm-sleep-ms 200]
 */
import { DEFAULT_NODE_ID } from '../core/node-names.js';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { Redis } from 'ioredis';
import { DockerSessionRuntime } from '../activities/docker-session-runtime.js';
import { SubnetPool } from '../activities/subnet-pool.js';
import { XPRA_WS_PORT } from '../core/ingress-names.js';
import { DEFAULT_ACTIVITY_POLL_SECONDS, loadWorkerConfig } from '../core/config.js';
import { openDatabase } from '../core/db/orm.js';
import { createLogger } from '../core/logger.js';
import { poolReadyKey } from '../core/pool-store.js';
import { createSessionWorker } from '../worker/session-worker.js';
import { QUALITIES, type Quality } from '../core/catalog.js';
import { sessionWorkflowId } from '../workflows/messages.js';
import { startApiOn, type ApiUnderTest } from '../test/support/api-under-test.js';
import { docker, removePoolContainers, sessionContainers, untilAppWindow } from '../test/support/docker.js';
import { REPO_ROOT, workflowsEntry } from '../test/support/paths.js';
import { startTestStack, type TestStack } from '../test/support/test-stack.js';
import { serveOutside, type OutsideWorldInfo } from '../test/support/outside-world.js';
import { PAGE_COLOUR, serveTestPage, type TestPage } from '../test/support/test-page.js';
import { ingressGid } from '../test/support/traefik.js';
import { windowShows, windowTitled } from '../test/support/xpra-page.js';
import { runClientBench } from './client-bench.js';
import { armInputProbe, inputTarget, installInputProbe, installPaintProbe, navigationTiming, readInputProbe, readPaintProbe } from './client-probes.js';
import { launchIsolatedChromium, type IsolatedBrowser } from './isolated-browser.js';
import { engineMicros, ownMicros, untilHostQuiet } from './host-cpu.js';
import { measureWatchCapacity } from './watch-capacity.js';
import { cpuMicros, memoryMiB } from './container-stats.js';
import { measureMemoryMerge } from './memory-merge.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const SAMPLES = Number(arg('samples')) || 20;
const E2E_SAMPLES = Math.max(5, Math.round(SAMPLES / 2));
const CONCURRENCY = 5;
const IDLE_N = 5;
/** How long idle sessions' CPU is measured, for the monitor and again for the polling baseline. */
const IDLE_CPU_WINDOW_MS = 60_000;
/**
 * When idle sessions' CPU is measured again, once Firefox's startup work is over; its window ends
 * before the connect deadline (5 minutes by default) ends a session nothing ever attached to.
 */
const IDLE_SETTLED_AFTER_MS = 3 * 60_000;
const ONLY = new Set((arg('only') ?? 'warm,cold,persist,e2e,memory,merge,growth,capacity,input,bandwidth,client').split(','));
/** Stand-in sessions one worker watches, step by step (bench/watch-capacity.ts). */
const CAPACITY_STEPS = (arg('capacity') ?? '0,100,250,500').split(',').map(Number);
const CAPACITY_WINDOW_MS = 30_000;
/** Idle sessions running while warm starts, memory and the host's CPU are measured again. */
const GROWTH_IDLE_SESSIONS = [0, 10, 20];
const GROWTH_WINDOW_MS = 20_000;
const GROWTH_SAMPLES = 5;
/** Inputs per kind (key, click) and preset for the input latency. */
const INPUT_SAMPLES = Math.max(10, SAMPLES);
/** bench/pages/input.html's title and two colours. */
const INPUT_PAGE_TITLE = 'hs-input';
const INPUT_COLOURS = [
  { r: 0x1e, g: 0x64, b: 0xc8 },
  { r: 0xe6, g: 0xa0, b: 0x1e },
] as const;
/** Half the added round trip of the WAN-like input measure (40 ms). */
const ADDED_DELAY_EACH_WAY_MS = 20;
const PRESETS = (arg('presets') ?? QUALITIES.join(',')).split(',') as Quality[];
for (const p of PRESETS) if (!QUALITIES.includes(p)) throw new Error(`--presets: unknown preset "${p}" (presets: ${QUALITIES.join(', ')})`);
const POOL_QUEUE = `hs-bench-pool-${process.pid}`;
const POLICIES = JSON.stringify({ user: { maxSessions: 10 } });
/** The benchmark's APIs: its users' access tokens outlive a whole run (one phase outlasts the default ten minutes). */
const API_ENV = { HACKSTREAM_LOG_LEVEL: 'error', HACKSTREAM_ROLE_POLICIES: POLICIES, HACKSTREAM_ACCESS_TOKEN_TTL_SECONDS: String(6 * 3600) };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number) => Math.round(x);
function stats(xs: number[]): { n: number; p50: number; p95: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const p = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((q / 100) * s.length) - 1))] ?? NaN;
  return { n: s.length, p50: round(p(50)), p95: round(p(95)), min: round(s[0] ?? NaN), max: round(s.at(-1) ?? NaN) };
}
const log = (msg: string) => console.log(`[bench] ${msg}`);

interface Created {
  ms: number;
  id: string;
  start: string;
  url: string;
  token: string;
  /** Epoch ms the request was sent and answered (the same clock as Temporal's history here). */
  sentAt: number;
  answeredAt: number;
}

async function create(t: ApiUnderTest, token: string, body: Record<string, unknown>): Promise<Created> {
  const sentAt = Date.now();
  const t0 = performance.now();
  const res = await t.call('POST', '/v1/sessions', { token, body: { app: 'firefox', ...body } });
  const ms = performance.now() - t0;
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  const view = res.body as { session_id: string; start: string; connect: { browser: { url: string } } };
  return { ms, id: view.session_id, start: view.start, url: view.connect.browser.url, token, sentAt, answeredAt: sentAt + ms };
}

/** A fresh connect descriptor's browser URL for a running session (what a reconnect asks for). */
async function reconnectUrl(t: ApiUnderTest, c: Created): Promise<string> {
  const res = await t.call('POST', `/v1/sessions/${c.id}/connect`, { token: c.token });
  if (res.status !== 200) throw new Error(`connect failed: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { connect: { browser: { url: string } } }).connect.browser.url;
}

/** xpra's HTML5 client page as xpra ships it, kept in the session image beside the bundled one (images/session/bundle-html5-client.py). */
const XPRA_SHIPPED_PAGE = '/xpra-index.html';

const stop = (t: ApiUnderTest, c: Created) => t.call('POST', `/v1/sessions/${c.id}/stop`, { token: c.token });

/** The API's Redis list of ready warm containers (what a create claims from). */
async function waitForPool(redis: Redis, image: string, size: number): Promise<void> {
  const key = poolReadyKey(POOL_QUEUE, DEFAULT_NODE_ID, 'firefox-auto', image);
  for (let i = 0; i < 600; i++) {
    if ((await redis.llen(key)) >= size) return;
    await sleep(250);
  }
  throw new Error(`the pool did not refill to ${size}`);
}

/** A history event's time in ms. */
const eventMs = (e: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }) =>
  Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;

/**
 * Where a session's workflow spent its time, from its history: how long each activity ran in the
 * worker (started → completed), and how long the workflow's tasks and activities waited for a
 * worker to pick them up (scheduled → started, summed).
 */
async function sessionTimeline(t: ApiUnderTest, sessionId: string): Promise<{ activities: Map<string, number>; queued: number; startedAt: number; readyAt: number | null }> {
  const history = await t.temporal.workflow.getHandle(sessionWorkflowId(sessionId)).fetchHistory();
  const events = history.events ?? [];
  const startedAt = events.length > 0 ? eventMs(events[0]!) : 0;
  // The ready update's answer (the API answers 201 once it has it).
  const ready = events.find((e) => e.workflowExecutionUpdateCompletedEventAttributes);
  const readyAt = ready ? eventMs(ready) : null;
  const activities = new Map<string, number>();
  let queued = 0;
  const startedOf = (sid: number, attr: 'activityTaskStartedEventAttributes' | 'workflowTaskStartedEventAttributes') =>
    events.find((e) => Number(e[attr]?.scheduledEventId ?? -1) === sid);
  for (const scheduled of events) {
    const sid = Number(scheduled.eventId);
    if (scheduled.workflowTaskScheduledEventAttributes) {
      const started = startedOf(sid, 'workflowTaskStartedEventAttributes');
      if (started) queued += eventMs(started) - eventMs(scheduled);
    }
    if (!scheduled.activityTaskScheduledEventAttributes) continue;
    const name = scheduled.activityTaskScheduledEventAttributes.activityType?.name ?? '?';
    const started = startedOf(sid, 'activityTaskStartedEventAttributes');
    const completed = events.find((e) => Number(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? -1) === sid);
    if (started) queued += eventMs(started) - eventMs(scheduled);
    if (started && completed && !activities.has(name)) activities.set(name, eventMs(completed) - eventMs(started));
  }
  return { activities, queued, startedAt, readyAt };
}
const activityDurations = async (t: ApiUnderTest, sessionId: string) => (await sessionTimeline(t, sessionId)).activities;

/**
 * A plain container of the session image (no limits, no hardening) until a Firefox window exists,
 * found as provisioning finds it (the image's hackstream-app-window); with where the time went.
 */
async function plainDockerRun(runtime: DockerSessionRuntime, image: string): Promise<{ window: number; phases: Record<string, number> }> {
  const t0 = performance.now();
  const container = await docker.createContainer({ Image: image, HostConfig: { ShmSize: 512 * 1024 * 1024 } });
  const created = performance.now();
  await container.start();
  const started = performance.now();
  try {
    await untilAppWindow(runtime, container.id);
    const now = performance.now();
    return { window: now - t0, phases: { create: created - t0, start: started - created, 'Firefox window': now - started } };
  } finally {
    await container.remove({ force: true });
  }
}

/** CPU time (µs) so far of the host's side: the Docker engine's processes and this process (the in-process worker and API). */
const hostMicros = () => ({ engine: engineMicros(), worker: ownMicros(), at: performance.now() });

/**
 * The host's CPU with no session at all over `ms`, in µs per second: what the engine and this
 * process spend anyway, which idleCpu takes off so that a session's host share is what it adds.
 */
async function hostRateWithoutSessions(ms: number): Promise<{ engine: number; worker: number }> {
  const before = hostMicros();
  await sleep(ms);
  const after = hostMicros();
  const seconds = (after.at - before.at) / 1000;
  return { engine: (after.engine - before.engine) / seconds, worker: (after.worker - before.worker) / seconds };
}

/** CPU time used over a window by idle sessions' containers and by the host's side, in µs. */
interface IdleWindow {
  containers: number;
  engine: number;
  worker: number;
  seconds: number;
  n: number;
}

/** CPU of idle sessions over `ms` while `background` runs (if given) until the window ends. */
async function idleCpu(containerIds: string[], ms: number, background?: (stopped: () => boolean) => Promise<void>): Promise<IdleWindow> {
  const before = { containers: await Promise.all(containerIds.map(cpuMicros)), ...hostMicros() };
  let stopped = false;
  const running = background?.(() => stopped);
  await sleep(ms);
  stopped = true;
  await running;
  const after = { containers: await Promise.all(containerIds.map(cpuMicros)), ...hostMicros() };
  return {
    containers: after.containers.reduce((a, c, i) => a + c - before.containers[i]!, 0),
    engine: after.engine - before.engine,
    worker: after.worker - before.worker,
    seconds: (after.at - before.at) / 1000,
    n: containerIds.length,
  };
}

/**
 * A window's CPU in % of one core per session: inside the containers, and what the sessions add
 * on the host (the Docker engine's processes, this process) over `fixed`, its rate with none.
 */
function idleShare(w: IdleWindow, fixed: { engine: number; worker: number }) {
  const percent = (micros: number) => Number(((Math.max(0, micros) / w.n / (w.seconds * 1e6)) * 100).toFixed(3));
  const container = percent(w.containers);
  const engine = percent(w.engine - fixed.engine * w.seconds);
  const worker = percent(w.worker - fixed.worker * w.seconds);
  return { per_session: Number((container + engine + worker).toFixed(3)), container, engine, worker, n: w.n, window_s: Math.round(w.seconds) };
}

async function containerOf(sessionId: string): Promise<{ id: string; ip: string }> {
  const [c] = await sessionContainers(sessionId);
  if (!c) throw new Error(`no container for ${sessionId}`);
  const ip = Object.values(c.NetworkSettings.Networks)[0]?.IPAddress ?? '';
  return { id: c.Id, ip };
}

let failures = 0;

/** What the client's page shows (for a sample that failed): window titles and canvas sizes. */
function clientState(): string {
  const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<{ textContent: string | null; width: number; height: number }> } }).document;
  const titles = [...doc.querySelectorAll('.windowtitle')].map((e) => e.textContent);
  const canvases = [...doc.querySelectorAll('#screen canvas')].map((c) => `${c.width}x${c.height}`);
  return JSON.stringify({ titles, canvases });
}

/**
 * A fresh browser tab, opened before the clock starts (a user's browser is already running; a
 * new context costs the isolated Chromium 100-300 ms that are neither HackStream's nor xpra's).
 */
async function freshTab(browser: IsolatedBrowser): Promise<{ tab: Page; context: BrowserContext; close: () => Promise<void> }> {
  const context = await browser.browser.newContext({ viewport: { width: 1280, height: 720 } });
  const tab = await context.newPage();
  // Its renderer process up and idle: on a user's machine it would not compete with the server.
  await tab.goto('about:blank');
  return { tab, context, close: () => context.close() };
}

/** Where an end-to-end sample's time went: before the client's page was asked for (the API), its load, the window's title, its colour. */
type Phases = Record<'api' | 'page_load' | 'window_titled' | 'colour_shown', number[]>;
const newPhases = (): Phases => ({ api: [], page_load: [], window_titled: [], colour_shown: [] });
const phaseStats = (p: Phases) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, stats(v)]));

/**
 * Opens the client at `url` in `tab` and waits until the test page shows; ms from `t0`
 * (performance.now), or null when it never did. A sample that showed adds its phases to `phases`.
 */
async function showPage(tab: Page, url: string, page: TestPage, t0: number, phases?: Phases): Promise<number | null> {
  let stage = 'page load';
  const consoleLines: string[] = [];
  tab.on('console', (m) => consoleLines.push(m.text()));
  try {
    const t1 = performance.now();
    await tab.goto(url);
    const t2 = performance.now();
    stage = 'window titled';
    await tab.waitForFunction(windowTitled, page.title, { timeout: 60_000, polling: 'raf' });
    const t3 = performance.now();
    stage = 'colour shown';
    await tab.waitForFunction(windowShows, { title: page.title, colour: PAGE_COLOUR }, { timeout: 60_000, polling: 'raf' });
    const t4 = performance.now();
    // Where the page load went (the browser's navigation timing, ms from the navigation's start).
    const nav = await tab.evaluate(navigationTiming).catch(() => null);
    const navNote = nav ? ` (first byte ${nav.firstByte}, html ${nav.html}, DOM ready ${nav.domReady}, load done ${nav.loadDone})` : '';
    log(`  before goto ${round(t1 - t0)} ms, page loaded +${round(t2 - t1)}${navNote}, window titled +${round(t3 - t2)}, colour shown +${round(t4 - t3)}`);
    if (phases) {
      phases.api.push(t1 - t0);
      phases.page_load.push(t2 - t1);
      phases.window_titled.push(t3 - t2);
      phases.colour_shown.push(t4 - t3);
    }
    return t4 - t0;
  } catch (err) {
    failures++;
    const state = await tab.evaluate(clientState).catch(() => 'unknown');
    log(`  FAILED at ${stage} (counted, not measured): ${String(err).split('\n')[0]}; client shows ${state}; its last console lines: ${JSON.stringify(consoleLines.slice(-5))}`);
    return null;
  }
}

/** The client in a fresh tab at `url`, a tunnel straight to a container's xpra: ms until the page shows, or null. */
async function attachDirectly(browser: IsolatedBrowser, url: string, page: TestPage, phases: Phases): Promise<number | null> {
  const { tab, close } = await freshTab(browser);
  // The host firewall lets only the ingress's group into session networks: for this baseline,
  // which skips the ingress on purpose, the tunnel (this process) takes that group.
  process.setegid!(ingressGid());
  try {
    return await showPage(tab, url, page, performance.now(), phases);
  } finally {
    process.setegid!(0);
    await close();
  }
}

/** A page of bench/pages/, served from the outside world (sessions reach the internet, never the host). */
function serveBenchPage(world: OutsideWorldInfo, file: string): Promise<{ url: string; close(): Promise<void> }> {
  const html = readFileSync(path.join(REPO_ROOT, 'bench', 'pages', file));
  return serveOutside(world, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  });
}

/**
 * Input latency in one session of `quality` showing bench/pages/input.html: clicks on the
 * streamed window and key presses, alternately, each from the moment the browser delivers it to
 * the client's page to the first on-screen frame with the page's other colour (the probe in
 * bench/client-probes.ts). An input whose frame never came within 5 s is counted as lost.
 */
async function measureInput(t: ApiUnderTest, token: string, browser: IsolatedBrowser, url: string, quality: Quality) {
  await untilHostQuiet(); // as measureScrolling
  const c = await create(t, token, { url, quality });
  const { tab, close } = await freshTab(browser);
  const key: number[] = [];
  const click: number[] = [];
  let lost = 0;
  try {
    await tab.goto(c.url);
    let shown: 0 | 1 = 0;
    await tab.waitForFunction(windowShows, { title: INPUT_PAGE_TITLE, colour: INPUT_COLOURS[shown] }, { timeout: 60_000, polling: 'raf' });
    await tab.waitForFunction(installInputProbe, undefined, { timeout: 10_000 });
    const target = await tab.evaluate(inputTarget);
    if (!target) throw new Error('no streamed window to click on');
    for (let i = 0; i < INPUT_SAMPLES * 2; i++) {
      const next: 0 | 1 = shown === 0 ? 1 : 0;
      await tab.evaluate(armInputProbe, INPUT_COLOURS[next]);
      const before = (await tab.evaluate(readInputProbe)).latencies.length;
      // A click first: it also gives the window the keyboard focus.
      if (i % 2 === 0) await tab.mouse.click(target.x, target.y);
      else await tab.keyboard.press('a');
      try {
        await tab.waitForFunction(`window.__hsInput.latencies.length > ${before}`, undefined, { timeout: 5000, polling: 'raf' });
        const ms = (await tab.evaluate(readInputProbe)).latencies.at(-1)!;
        (i % 2 === 0 ? click : key).push(ms);
        shown = next;
      } catch {
        lost++;
        // Whether the page flipped after all (late, or the probe missed it): follow what it shows.
        const flipped = await tab.waitForFunction(windowShows, { title: INPUT_PAGE_TITLE, colour: INPUT_COLOURS[next] }, { timeout: 3000, polling: 'raf' }).then(
          () => true,
          () => false,
        );
        if (flipped) shown = next;
      }
      await sleep(300);
    }
  } finally {
    await close();
    await stop(t, c);
  }
  return { key: stats(key), click: stats(click), lost };
}

/** One preset: scroll for 10 s while the client watches, then wait for the last update. */
async function measureScrolling(t: ApiUnderTest, token: string, browser: IsolatedBrowser, ingressBytes: () => number, scrollUrl: string, quality: Quality) {
  const SCROLL_S = 10;
  // The last part's teardown (hundreds of stand-ins after the capacity part) is not the window's.
  await untilHostQuiet();
  const scrollAt = Date.now() + 25_000;
  const c = await create(t, token, { url: `${scrollUrl}?scroll_at=${scrollAt}&seconds=${SCROLL_S}&speed=600`, quality });
  const container = await containerOf(c.id);
  const context = await browser.browser.newContext({ viewport: { width: 1280, height: 720 } });
  try {
    const tab: Page = await context.newPage();
    await tab.goto(c.url);
    await tab.waitForFunction(windowTitled, 'HackStream scroll benchmark', { timeout: 60_000 });
    await tab.waitForFunction(installPaintProbe, undefined, { timeout: 10_000 });
    if (Date.now() > scrollAt - 2000) throw new Error('the client attached too late for the scroll window');
    await sleep(scrollAt - Date.now());
    const since = (await tab.evaluate(readPaintProbe, Infinity)).now;
    const [bytes0, cpu0] = [ingressBytes(), await cpuMicros(container.id)];
    await sleep(SCROLL_S * 1000);
    const [bytes1, cpu1] = [ingressBytes(), await cpuMicros(container.id)];
    const during = await tab.evaluate(readPaintProbe, since);
    const scrollEnd = during.now;
    await sleep(5000);
    const after = await tab.evaluate(readPaintProbe, scrollEnd);
    const last = after.paints.at(-1);
    // Encoded bytes per coding while scrolling (what the bandwidth went to).
    const codings = (ps: typeof during.paints) => {
      const by = new Map<string, number>();
      for (const p of ps) {
        const key = p[3] === null ? p[1] : `${p[1]} q${Math.round(p[3] / 10) * 10}`;
        by.set(key, (by.get(key) ?? 0) + p[4]);
      }
      return [...by].sort((a, b) => b[1] - a[1]).map(([c, b]) => `${c} ${Math.round(b / 1024)} KiB`).join(', ');
    };
    return {
      quality,
      mbit_per_s: Number((((bytes1 - bytes0) * 8) / SCROLL_S / 1e6).toFixed(2)),
      painted_fps: Number((during.draws.filter((d) => d <= scrollEnd).length / SCROLL_S).toFixed(1)),
      updates_per_s: Number((during.paints.filter((p) => p[0] <= scrollEnd).length / SCROLL_S).toFixed(1)),
      server_cpu_cores: Number(((cpu1 - cpu0) / 1e6 / SCROLL_S).toFixed(2)),
      sharp_after_ms: last ? round(last[0] - scrollEnd) : 0,
      last_update: last ? `${last[1]}${last[3] !== null ? ` q${last[3]}` : ''}` : 'none',
      codings_while_scrolling: codings(during.paints),
    };
  } finally {
    await context.close();
    await stop(t, c);
  }
}

async function main(): Promise<void> {
  log('starting the stack (Redis, Temporal dev server, Traefik, worker) ...');
  // The session monitor at its default pace (the tests' stack looks every second).
  const stack: TestStack = await startTestStack({ HACKSTREAM_ACTIVITY_POLL_SECONDS: String(DEFAULT_ACTIVITY_POLL_SECONDS) });
  const image = loadWorkerConfig(stack.env).apps['firefox']!.image;
  const runtime = new DockerSessionRuntime(docker, new SubnetPool('10.214.0.0/24'), `hs-bench-${process.pid}`);
  const redis = new Redis(stack.env['HACKSTREAM_REDIS_URL']!);
  const page = await serveTestPage(stack.outside);
  const scroll = await serveBenchPage(stack.outside, 'scroll.html');
  const inputPage = await serveBenchPage(stack.outside, 'input.html');
  const browser = await launchIsolatedChromium({ trustCaFile: stack.caFile });
  const ingress = await browser.tunnel({ host: '127.0.0.1', port: stack.ingressPort });
  const result: Record<string, unknown> = { date: new Date().toISOString(), samples: SAMPLES, concurrency: CONCURRENCY };
  const rows: string[] = [];
  const clientMd: string[] = [];
  const phaseRow = (name: string, p: Phases) =>
    rows.push(`| ${name}, p50 of its phases: API ${stats(p.api).p50} ms, page loaded +${stats(p.page_load).p50}, window titled +${stats(p.window_titled).p50}, colour shown +${stats(p.colour_shown).p50} | | | | ${p.api.length} |`);
  const row = (name: string, s: ReturnType<typeof stats>, unit = 'ms') => rows.push(`| ${name} | ${s.p50} ${unit} | ${s.p95} ${unit} | ${s.min}–${s.max} | ${s.n} |`);

  // Warm starts measured in this run, reported beside the persistent ones (which cannot be warm).
  let warmBesidePersistent: number[] = [];
  // A phase that fails ends the run, but what the phases before it measured is still written.
  let failure: Error | null = null;

  try {
    if (ONLY.has('warm') || ONLY.has('e2e') || ONLY.has('growth') || ONLY.has('persist')) {
      // Growth piles up 20 idle sessions beside the pool: the node's admission ceilings (by default
      // each session's memory and CPU limits, reserved in full) are lifted so that what the host
      // really bears is what is measured.
      const roomForGrowth = { HACKSTREAM_NODE_MEMORY_MB: String(256 * 1024), HACKSTREAM_NODE_CPUS: '256' };
      const poolEnv = { ...stack.env, ...roomForGrowth, HACKSTREAM_TASK_QUEUE: POOL_QUEUE, HACKSTREAM_POOL: `firefox:auto:${CONCURRENCY}`, HACKSTREAM_ROLE_POLICIES: POLICIES };
      const poolConfig = loadWorkerConfig(poolEnv);
      const db = await openDatabase(poolConfig.db);
      // The API first: warm containers' routes need its ForwardAuth middleware in the ingress.
      const t = await startApiOn(stack, { ...poolEnv, ...API_ENV });
      const worker = await createSessionWorker({ config: poolConfig, logger: createLogger({ level: 'error', service: 'bench-pool', json: false }), db, workflows: { workflowsPath: workflowsEntry } });
      void worker.run();
      try {
        const user = await t.newUser();
        log(`waiting for the pool of ${CONCURRENCY} to fill ...`);
        await waitForPool(redis, image, CONCURRENCY);
        // One warm start, c=1, from a full pool on a quiet host.
        const warmStart = async () => {
          await waitForPool(redis, image, CONCURRENCY);
          await untilHostQuiet();
          const c = await create(t, user.token, { url: page.url });
          if (c.start !== 'warm') throw new Error('expected a warm start');
          return c;
        };
        if (ONLY.has('persist') && !ONLY.has('warm')) {
          for (let i = 0; i < SAMPLES; i++) {
            const c = await warmStart();
            warmBesidePersistent.push(c.ms);
            await stop(t, c);
            log(`warm c=1 (beside the persistent starts) ${i + 1}/${SAMPLES}: ${round(c.ms)} ms`);
          }
        }
        if (ONLY.has('warm')) {
          const warm1: number[] = [];
          const overhead: number[] = [];
          const claimMs: number[] = [];
          // Where a warm start's time goes: the API before the workflow starts (authentication,
          // quota, the claim, the start), the workflow until its ready answer (its tasks and
          // activities), and the API's answer after it; and the activities' own time.
          const newPhases = (): Record<string, number[]> => ({ before_workflow: [], workflow_until_ready: [], answer_after_ready: [] });
          const addPhases = (phases: Record<string, number[]>, c: Created, timeline: Awaited<ReturnType<typeof sessionTimeline>>) => {
            if (timeline.readyAt !== null) {
              phases['before_workflow']!.push(timeline.startedAt - c.sentAt);
              phases['workflow_until_ready']!.push(timeline.readyAt - timeline.startedAt);
              phases['answer_after_ready']!.push(c.answeredAt - timeline.readyAt);
            }
            for (const [name, ms] of timeline.activities) (phases[`activity ${name}`] ??= []).push(ms);
          };
          const phases1 = newPhases();
          for (let i = 0; i < SAMPLES; i++) {
            const c = await warmStart();
            warm1.push(c.ms);
            const timeline = await sessionTimeline(t, c.id);
            const claim = timeline.activities.get('claimWarmContainer');
            if (claim !== undefined) {
              overhead.push(c.ms - claim);
              claimMs.push(claim);
            }
            addPhases(phases1, c, timeline);
            await stop(t, c);
            log(`warm c=1 ${i + 1}/${SAMPLES}: ${round(c.ms)} ms`);
          }
          const warm5: number[] = [];
          const queued5: number[] = [];
          const phases5 = newPhases();
          let warm5Cold = 0;
          for (let round5 = 0; round5 < Math.ceil(SAMPLES / CONCURRENCY); round5++) {
            await waitForPool(redis, image, CONCURRENCY);
            const users = await Promise.all(Array.from({ length: CONCURRENCY }, () => t.newUser()));
            await untilHostQuiet();
            const cs = await Promise.all(users.map((u) => create(t, u.token, { url: page.url })));
            warm5.push(...cs.map((c) => c.ms));
            warm5Cold += cs.filter((c) => c.start !== 'warm').length;
            for (const c of cs) {
              const timeline = await sessionTimeline(t, c.id);
              addPhases(phases5, c, timeline);
              queued5.push(timeline.queued);
            }
            await Promise.all(cs.map((c) => stop(t, c)));
            log(`warm c=${CONCURRENCY} round ${round5 + 1}: ${cs.map((c) => round(c.ms)).join(', ')} ms`);
          }
          warmBesidePersistent = warm1;
          result['warm_start_ms'] = { c1: stats(warm1), [`c${CONCURRENCY}`]: stats(warm5), [`c${CONCURRENCY}_cold_fallbacks`]: warm5Cold };
          result['api_overhead_ms'] = stats(overhead);
          result['claim_activity_ms'] = stats(claimMs);
          row('warm start: POST → 201 ready, c=1', stats(warm1));
          row(`warm start: POST → 201 ready, c=${CONCURRENCY}`, stats(warm5));
          row('API overhead (warm start minus the claim activity)', stats(overhead));
          row('  the claim activity (token key, limits if they differ, URL handed over)', stats(claimMs));
          result['warm_start_c1_phases_ms'] = Object.fromEntries(Object.entries(phases1).map(([k, v]) => [k, stats(v)]));
          for (const [k, v] of Object.entries(phases1)) row(`  c=1: ${k.replaceAll('_', ' ')}`, stats(v));
          result['warm_start_c5_phases_ms'] = { ...Object.fromEntries(Object.entries(phases5).map(([k, v]) => [k, stats(v)])), queued_for_a_worker: stats(queued5) };
          for (const [k, v] of Object.entries(phases5)) row(`  c=${CONCURRENCY}: ${k.replaceAll('_', ' ')}`, stats(v));
          row(`  c=${CONCURRENCY}: the workflow's tasks and activities waiting for the worker (summed)`, stats(queued5));
        }
        if (ONLY.has('growth')) {
          // Warm starts, memory and the host's CPU as idle sessions pile up: 0, 10, then 20
          // sessions (`low`, so that they start cold and leave the pool of `auto` alone), nobody
          // attached.
          const idle: Created[] = [];
          const owners = [await t.newUser(), await t.newUser()];
          const steps: Array<{
            idle_sessions: number;
            warm_start_ms: ReturnType<typeof stats>;
            memory_mib_per_session: number | null;
            host_cpu_percent_of_a_core: { containers: number; engine: number; worker: number };
          }> = [];
          for (const k of GROWTH_IDLE_SESSIONS) {
            while (idle.length < k) idle.push(await create(t, owners[idle.length % owners.length]!.token, { url: page.url, quality: 'low' }));
            log(`growth: ${k} idle sessions; settling, then the host's CPU for ${GROWTH_WINDOW_MS / 1000} s and ${GROWTH_SAMPLES} warm starts ...`);
            await sleep(20_000);
            const ids = await Promise.all(idle.map(async (c) => (await containerOf(c.id)).id));
            const w = await idleCpu(ids, GROWTH_WINDOW_MS);
            const cores = (micros: number) => Number((micros / w.seconds / 1e4).toFixed(2));
            const mem = await Promise.all(ids.map(memoryMiB));
            const warm: number[] = [];
            for (let i = 0; i < GROWTH_SAMPLES; i++) {
              await waitForPool(redis, image, CONCURRENCY);
              const c = await create(t, user.token, { url: page.url });
              if (c.start === 'warm') warm.push(c.ms);
              await stop(t, c);
            }
            const step = {
              idle_sessions: k,
              warm_start_ms: stats(warm),
              memory_mib_per_session: mem.length ? round(mem.reduce((a, m) => a + m.used, 0) / mem.length) : null,
              host_cpu_percent_of_a_core: { containers: cores(w.containers), engine: cores(w.engine), worker: cores(w.worker) },
            };
            log(`growth: ${JSON.stringify(step)}`);
            steps.push(step);
            row(`warm start with ${k} idle sessions running`, stats(warm));
          }
          await Promise.all(idle.map((c) => stop(t, c)));
          result['growth'] = { ...(result['growth'] as object | undefined), idle_steps: steps };
          for (const st of steps) {
            const cpu = st.host_cpu_percent_of_a_core;
            rows.push(`| ${st.idle_sessions} idle sessions: memory per session; CPU (% of a core: containers, engine, worker) | ${st.memory_mib_per_session ?? '–'} MiB | ${cpu.containers} / ${cpu.engine} / ${cpu.worker} % | | ${st.idle_sessions} |`);
          }
        }
        if (ONLY.has('e2e')) {
          const e2eWarm: number[] = [];
          const e2eCached: number[] = [];
          const [warmPhases, cachedPhases] = [newPhases(), newPhases()];
          for (let i = 0; i < E2E_SAMPLES; i++) {
            await waitForPool(redis, image, CONCURRENCY);
            const { tab, context, close } = await freshTab(browser);
            await untilHostQuiet();
            const t0 = performance.now();
            const c = await create(t, user.token, { url: page.url });
            const shown = await showPage(tab, c.url, page, t0, warmPhases);
            if (shown !== null) e2eWarm.push(shown);
            // The reconnect: the tab closed, a new one in the same browser (its cache kept), a
            // fresh connect descriptor, the client's bundle already cached.
            await tab.close();
            const again = await context.newPage();
            await again.goto('about:blank');
            await untilHostQuiet();
            const t1 = performance.now();
            const url = await reconnectUrl(t, c);
            const reshown = await showPage(again, url, page, t1, cachedPhases);
            if (reshown !== null) e2eCached.push(reshown);
            await close();
            await stop(t, c);
            log(`e2e warm ${i + 1}/${E2E_SAMPLES}: ${shown === null ? 'failed' : round(shown)} ms (create ${round(c.ms)} ms); reconnect, assets cached: ${reshown === null ? 'failed' : round(reshown)} ms`);
          }
          result['e2e_warm_ms'] = stats(e2eWarm);
          result['e2e_warm_cached_ms'] = stats(e2eCached);
          result['e2e_warm_phases_ms'] = phaseStats(warmPhases);
          result['e2e_warm_cached_phases_ms'] = phaseStats(cachedPhases);
          row('end to end warm: POST → page shown in the HTML5 client', stats(e2eWarm));
          row('  the same, client assets cached (reconnect: POST connect → page shown)', stats(e2eCached));
          phaseRow('end to end warm', warmPhases);
          phaseRow('reconnect, assets cached', cachedPhases);
        }
      } finally {
        await t.close();
        await worker.close();
        // The pool's warm containers would otherwise run on through the cold measurements below.
        await removePoolContainers(POOL_QUEUE, DEFAULT_NODE_ID, 'firefox-auto');
        await db.close();
      }
    }

    if (ONLY.has('merge')) {
      let tunnels = 0;
      const showsPage = async (ip: string) => {
        const tunnel = await browser.tunnel({ host: ip, port: XPRA_WS_PORT }, 21_000 + tunnels++);
        return (await attachDirectly(browser, `http://127.0.0.1:${tunnel.port}/`, page, newPhases())) !== null;
      };
      const ksmSleep = arg('ksm-sleep-ms');
      const m = await measureMemoryMerge({ n: IDLE_N, scans: 3, windowMs: 60_000, url: page.url, showsPage, log, ...(ksmSleep ? { sleepMs: Number(ksmSleep) } : {}) });
      result['idle_memory_merged'] = m;
      rows.push(
        `| memory of ${m.sessions_per_set} idle sessions with same-page merging (HACKSTREAM_SESSION_MEMORY_MERGE=on), per session (beside ${m.sessions_per_set} without, the default, in the same minutes) ${m.minutes_after_ready} min after ready; anonymous | ${m.merged_mib.used} MiB (${m.default_mib.used}) | ${m.merged_mib.anon} MiB (${m.default_mib.anon}) | ${m.merged_sessions_showing_their_page} of ${m.sessions_per_set} merged sessions showed their page afterwards | ${m.sessions_per_set} + ${m.sessions_per_set} |`,
      );
      rows.push(
        `|   ksmd's CPU meanwhile (ksmd's pace: ${m.ksm_pages_to_scan} pages every ${m.ksm_sleep_millisecs} ms), % of a core: in all; per merging session | ${m.ksmd_cpu_percent} % | ${m.ksmd_cpu_percent_per_session} % | ${m.pages_sharing} pages sharing ${m.pages_shared} | ${m.sessions_per_set} |`,
      );
    }
    const t = await startApiOn(stack, API_ENV);
    try {
      const user = await t.newUser();
      if (ONLY.has('cold')) {
        const cold1: number[] = [];
        const baseline: number[] = [];
        const phases = new Map<string, number[]>();
        const phase = (name: string, v: number) => phases.set(name, [...(phases.get(name) ?? []), v]);
        for (let i = 0; i < SAMPLES; i++) {
          const c = await create(t, user.token, { url: page.url });
          cold1.push(c.ms);
          for (const [name, d] of await activityDurations(t, c.id)) {
            if (['prepareSessionFiles', 'createSessionKey', 'signSessionCertificate', 'installSessionCertificate', 'provisionSession', 'addSessionRoutes'].includes(name)) phase(`cold: ${name}`, d);
          }
          await stop(t, c);
          const run = await plainDockerRun(runtime, image);
          baseline.push(run.window);
          for (const [name, d] of Object.entries(run.phases)) phase(`docker run: ${name}`, d);
          log(`cold c=1 ${i + 1}/${SAMPLES}: ${round(c.ms)} ms; docker run ${round(baseline.at(-1)!)} ms`);
        }
        const cold5: number[] = [];
        for (let r = 0; r < Math.ceil(SAMPLES / CONCURRENCY); r++) {
          const users = await Promise.all(Array.from({ length: CONCURRENCY }, () => t.newUser()));
          const cs = await Promise.all(users.map((u) => create(t, u.token, { url: page.url })));
          cold5.push(...cs.map((c) => c.ms));
          await Promise.all(cs.map((c) => stop(t, c)));
          log(`cold c=${CONCURRENCY} round ${r + 1}: ${cs.map((c) => round(c.ms)).join(', ')} ms`);
        }
        result['cold_start_ms'] = { c1: stats(cold1), [`c${CONCURRENCY}`]: stats(cold5) };
        result['docker_run_baseline_ms'] = stats(baseline);
        result['cold_over_docker_run_p50'] = Number((stats(cold1).p50 / stats(baseline).p50).toFixed(2));
        row('cold start: POST → 201 ready, c=1', stats(cold1));
        row(`cold start: POST → 201 ready, c=${CONCURRENCY}`, stats(cold5));
        row('baseline: docker run → Firefox window', stats(baseline));
        result['cold_phases_ms'] = Object.fromEntries([...phases].map(([k, v]) => [k, stats(v)]));
        for (const [name, v] of phases) row(`  ${name}`, stats(v));
      }
      if (ONLY.has('persist')) {
        // Persistent profiles start cold (a warm container mounts nobody's profile): a new
        // profile (its file system made), an existing one, and an ephemeral cold start, one of
        // each per sample in turn; and their stops (a persistent session's app saves and quits
        // before its container goes). The warm ephemeral start beside them was measured above,
        // in this run, with the pool's worker.
        const [fresh, existing, ephemeral] = [[] as number[], [] as number[], [] as number[]];
        const [stopPersistent, stopEphemeral] = [[] as number[], [] as number[]];
        const timedStop = async (c: Created, into: number[]) => {
          const t0 = performance.now();
          const res = await stop(t, c);
          if (res.status !== 200) throw new Error(`stop failed: ${res.status} ${JSON.stringify(res.body)}`);
          into.push(performance.now() - t0);
        };
        for (let i = 0; i < SAMPLES; i++) {
          const owner = await t.newUser();
          await untilHostQuiet();
          const first = await create(t, owner.token, { url: page.url, profile: 'persist' });
          fresh.push(first.ms);
          await timedStop(first, stopPersistent);
          await untilHostQuiet();
          const again = await create(t, owner.token, { url: page.url, profile: 'persist' });
          existing.push(again.ms);
          await timedStop(again, stopPersistent);
          await untilHostQuiet();
          const plain = await create(t, owner.token, { url: page.url });
          ephemeral.push(plain.ms);
          await timedStop(plain, stopEphemeral);
          log(`persist ${i + 1}/${SAMPLES}: new profile ${round(first.ms)} ms, existing ${round(again.ms)} ms, ephemeral cold ${round(plain.ms)} ms`);
        }
        result['persistent_cold_start_ms'] = {
          new_profile: stats(fresh),
          existing_profile: stats(existing),
          ephemeral_cold_same_run: stats(ephemeral),
          ephemeral_warm_same_run: stats(warmBesidePersistent),
        };
        result['stop_ms'] = { persistent: stats(stopPersistent), ephemeral: stats(stopEphemeral) };
        row('persistent cold start, new profile: POST → 201 ready, c=1', stats(fresh));
        row('persistent cold start, existing profile: POST → 201 ready, c=1', stats(existing));
        row('  ephemeral cold start in the same run, c=1', stats(ephemeral));
        row('  ephemeral warm start in the same run, c=1', stats(warmBesidePersistent));
        row('stop of a persistent session (the app saves and quits): POST stop → 200', stats(stopPersistent));
        row('  stop of an ephemeral session', stats(stopEphemeral));
      }
      if (ONLY.has('e2e')) {
        const e2eCold: number[] = [];
        const direct: number[] = [];
        const directShipped: number[] = [];
        const [directPhases, shippedPhases] = [newPhases(), newPhases()];
        for (let i = 0; i < E2E_SAMPLES; i++) {
          const first = await freshTab(browser);
          await untilHostQuiet();
          const t0 = performance.now();
          const c = await create(t, user.token, { url: page.url });
          const shown = await showPage(first.tab, c.url, page, t0);
          await first.close();
          if (shown !== null) e2eCold.push(shown);
          await stop(t, c);
          // The client alone: straight to a running container's websocket port, no API, no ingress.
          const d = await create(t, user.token, { url: page.url });
          const { ip } = await containerOf(d.id);
          const tunnel = await browser.tunnel({ host: ip, port: XPRA_WS_PORT }, 20_000 + i);
          await untilHostQuiet();
          const attached = await attachDirectly(browser, `http://127.0.0.1:${tunnel.port}/`, page, directPhases);
          if (attached !== null) direct.push(attached);
          // And xpra's own page, as xpra ships it (27 scripts, no bundle): what the bundle saves.
          await untilHostQuiet();
          const shipped = await attachDirectly(browser, `http://127.0.0.1:${tunnel.port}${XPRA_SHIPPED_PAGE}`, page, shippedPhases);
          if (shipped !== null) directShipped.push(shipped);
          await stop(t, d);
          log(`e2e cold ${i + 1}/${E2E_SAMPLES}: ${shown === null ? 'failed' : round(shown)} ms; direct attach ${attached === null ? 'failed' : round(attached)} ms, xpra's page as shipped ${shipped === null ? 'failed' : round(shipped)} ms`);
        }
        result['direct_attach_xpra_page_ms'] = stats(directShipped);
        result['direct_attach_phases_ms'] = phaseStats(directPhases);
        result['direct_attach_xpra_page_phases_ms'] = phaseStats(shippedPhases);
        result['e2e_cold_ms'] = stats(e2eCold);
        result['direct_attach_ms'] = stats(direct);
        row('end to end cold: POST → page shown in the HTML5 client', stats(e2eCold));
        row('baseline: HTML5 client straight to a running container → page shown', stats(direct));
        row("  the same with xpra's page as shipped (unbundled)", stats(directShipped));
        phaseRow('direct attach', directPhases);
        phaseRow("direct attach, xpra's page as shipped", shippedPhases);
        const warm = result['e2e_warm_ms'] as ReturnType<typeof stats> | undefined;
        if (warm) result['e2e_warm_minus_direct_attach_p50_ms'] = warm.p50 - stats(direct).p50;
        result['e2e_cold_over_direct_attach_p50'] = Number((stats(e2eCold).p50 / stats(direct).p50).toFixed(2));
      }
      if (ONLY.has('memory')) {
        const cs: Created[] = [];
        for (let i = 0; i < IDLE_N; i++) cs.push(await create(t, user.token, { url: page.url }));
        const readyAt = Date.now();
        log(`${IDLE_N} idle sessions: letting Firefox settle for 30 s ...`);
        await sleep(30_000);
        const mem = await Promise.all(cs.map(async (c) => memoryMiB((await containerOf(c.id)).id)));
        const total = mem.reduce((a, m) => a + m.used, 0);
        result['idle_memory_mib'] = {
          one: round(mem[0]!.used),
          one_anon: round(mem[0]!.anon),
          [`n${IDLE_N}_total`]: round(total),
          per_session: round(total / IDLE_N),
        };
        rows.push(`| memory of one idle session (docker stats; anonymous) | ${round(mem[0]!.used)} MiB | ${round(mem[0]!.anon)} MiB | | 1 |`);
        rows.push(`| memory of ${IDLE_N} idle sessions (total; per session) | ${round(total)} MiB | ${round(total / IDLE_N)} MiB | | ${IDLE_N} |`);
        // CPU of the same idle sessions, nothing attached: with the worker's session monitor (a
        // pass every 5 s, the default), then, as the baseline in the same run, with what the
        // watcher per session did before it: `xpra info` in every container every 5 s (the
        // monitor still running too). The host's share is what it spends over its rate with no
        // session, measured once they have stopped (not at the stack's start, still warming up).
        const ids = await Promise.all(cs.map(async (c) => (await containerOf(c.id)).id));
        log(`${IDLE_N} idle sessions: CPU for ${IDLE_CPU_WINDOW_MS / 1000} s with the session monitor, then as much with xpra info polled every 5 s ...`);
        const monitoredRaw = await idleCpu(ids, IDLE_CPU_WINDOW_MS);
        const polledRaw = await idleCpu(ids, IDLE_CPU_WINDOW_MS, async (stopped) => {
          while (!stopped()) {
            await Promise.all(ids.map((id) => runtime.xpraStatus(id).catch(() => null)));
            // As often as the watcher before the monitor ran it: at the default poll.
            await sleep(DEFAULT_ACTIVITY_POLL_SECONDS * 1000);
          }
        });
        // Firefox's own work of its first minutes (its idle-time startup tasks) is over by then: the
        // rate an idle session keeps until its connect deadline.
        const settledAt = readyAt + IDLE_SETTLED_AFTER_MS;
        log(`${IDLE_N} idle sessions: CPU for ${IDLE_CPU_WINDOW_MS / 1000} s with the session monitor, ${IDLE_SETTLED_AFTER_MS / 60_000} minutes after they were ready ...`);
        await sleep(Math.max(0, settledAt - Date.now()));
        const settledRaw = await idleCpu(ids, IDLE_CPU_WINDOW_MS);
        await Promise.all(cs.map((c) => stop(t, c)));
        await sleep(10_000);
        log(`the host with no session: ${IDLE_CPU_WINDOW_MS / 2000} s ...`);
        const fixed = await hostRateWithoutSessions(IDLE_CPU_WINDOW_MS / 2);
        const monitored = idleShare(monitoredRaw, fixed);
        const polled = idleShare(polledRaw, fixed);
        const settled = idleShare(settledRaw, fixed);
        result['idle_cpu_percent'] = {
          ...settled,
          settled_after_s: IDLE_SETTLED_AFTER_MS / 1000,
          first_minutes: { ...monitored, from_s: 30 },
          host_without_sessions_percent: { engine: Number((fixed.engine / 1e4).toFixed(3)), worker: Number((fixed.worker / 1e4).toFixed(3)) },
          baseline_xpra_info_every_5s: polled,
        };
        const cpuRow = (name: string, c: typeof monitored) =>
          rows.push(`| ${name} (% of a core per session: container + engine + worker) | ${c.per_session} % | ${c.container} + ${c.engine} + ${c.worker} | | ${c.n} |`);
        cpuRow(`CPU of an idle session, nothing attached, session monitor, ${IDLE_SETTLED_AFTER_MS / 60_000} minutes after ready`, settled);
        cpuRow('  the same, 30 s after ready (Firefox still at its startup tasks)', monitored);
        cpuRow('baseline: 30 s after ready, with `xpra info` every 5 s (the watcher before the monitor)', polled);
      }
      if (ONLY.has('capacity')) {
        const owner = await t.newUser();
        const starter = await t.newUser();
        const capacity = await measureWatchCapacity(stack, t.temporal, owner.id, {
          steps: CAPACITY_STEPS,
          windowMs: CAPACITY_WINDOW_MS,
          coldStart: async () => {
            const c = await create(t, starter.token, { url: page.url });
            await stop(t, c);
            return c.ms;
          },
          log,
        });
        result['growth'] = { ...(result['growth'] as object | undefined), max_watched_sessions: capacity.max_watched_sessions, watch_capacity: capacity };
        for (const step of capacity.engine_only) {
          rows.push(`| baseline: ${step.containers} bare containers (nothing watched): cold start p50; engine CPU | ${step.cold_start_ms.p50} ms | | ${step.engine_cpu_percent} % | ${step.cold_start_ms.n} |`);
        }
        for (const step of capacity.steps) {
          rows.push(
            `| ${step.sessions} watched stand-in sessions: cold start p50 (baseline's); monitor pass; worker CPU, RSS; engine, Temporal CPU; history events per session-hour | ${step.cold_start_ms.p50} ms (${step.engine_only_cold_start_p50_ms}) | ${step.monitor_pass_ms} ms pass | ${step.worker_cpu_percent} % cpu, ${step.worker_rss_mib} MiB; ${step.engine_cpu_percent} %, ${step.temporal_cpu_percent} %; ${step.history_events_per_session_hour} | ${step.cold_start_ms.n} |`,
          );
        }
        rows.push(`| most live sessions one worker watches while cold starts stay within 25 % of the baseline's beside as many bare containers | ${capacity.max_watched_sessions} | | | |`);
        if (capacity.teardown) {
          const { sessions, ms, containers_left } = capacity.teardown;
          rows.push(`| all ${sessions} stand-in sessions stopped together: stop signals → every workflow's teardown done; containers it left | ${ms} ms | | ${containers_left} left | ${sessions} |`);
        }
      }
      if (ONLY.has('input')) {
        const latency: Record<string, Awaited<ReturnType<typeof measureInput>>> = {};
        for (const q of PRESETS) {
          latency[q] = await measureInput(t, user.token, browser, inputPage.url, q);
          log(`input latency, ${q}: ${JSON.stringify(latency[q])}`);
          row(`input latency on loopback, ${q}: key → first frame showing it`, latency[q].key);
          row(`input latency on loopback, ${q}: click → first frame showing it`, latency[q].click);
        }
        browser.setDelay(ADDED_DELAY_EACH_WAY_MS);
        let rtt: Awaited<ReturnType<typeof measureInput>>;
        try {
          rtt = await measureInput(t, user.token, browser, inputPage.url, 'auto');
        } finally {
          browser.setDelay(0);
        }
        log(`input latency, auto, ${2 * ADDED_DELAY_EACH_WAY_MS} ms added round trip: ${JSON.stringify(rtt)}`);
        row(`input latency, auto, ${2 * ADDED_DELAY_EACH_WAY_MS} ms added round trip: key → frame`, rtt.key);
        result['input_latency_ms'] = latency;
        result['input_latency_rtt40_ms'] = rtt.key;
        result['input_latency_rtt40_click_ms'] = rtt.click;
        result['input_latency_lost'] = Object.values(latency).reduce((a, l) => a + l.lost, 0) + rtt.lost;
      }
      if (ONLY.has('bandwidth')) {
        const presets: Array<Awaited<ReturnType<typeof measureScrolling>>> = [];
        for (const q of PRESETS) {
          presets.push(await measureScrolling(t, user.token, browser, () => ingress.bytesToBrowser(), scroll.url, q));
          log(`scrolling, ${q}: ${JSON.stringify(presets.at(-1))}`);
        }
        result['scrolling'] = presets;
      }
    } finally {
      await t.close();
    }
    if (ONLY.has('client')) {
      const client = await runClientBench(stack, scroll.url);
      Object.assign(result, client.result);
      clientMd.push(...client.md);
    }
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
    log(`failed: ${failure.stack ?? failure.message}`);
  } finally {
    await browser.close();
    await scroll.close();
    await inputPage.close();
    await page.close();
    redis.disconnect();
    await stack.stop();
  }

  result['browser_failures'] = failures;
  if (failure) result['failed'] = failure.message;
  const md: string[] = rows.length ? ['| measure | p50 | p95 | range | n |', '|---|---|---|---|---|', ...rows] : [];
  if (failures) md.push('', `- ${failures} browser sample(s) never showed the page within 60 s (left out of the figures)`);
  const ratios: string[] = [];
  const num = (key: string) => result[key] as number | undefined;
  if (num('cold_over_docker_run_p50') !== undefined) ratios.push(`cold / docker run (p50): ${num('cold_over_docker_run_p50')}`);
  if (num('e2e_cold_over_direct_attach_p50') !== undefined) ratios.push(`end-to-end cold / direct attach (p50): ${num('e2e_cold_over_direct_attach_p50')}`);
  if (num('e2e_warm_minus_direct_attach_p50_ms') !== undefined) {
    const warm = result['e2e_warm_ms'] as ReturnType<typeof stats>;
    const direct = result['direct_attach_ms'] as ReturnType<typeof stats>;
    ratios.push(`end-to-end warm / direct attach (p50): ${(warm.p50 / direct.p50).toFixed(2)} (+${num('e2e_warm_minus_direct_attach_p50_ms')} ms)`);
  }
  if (ratios.length) md.push('', ...ratios.map((r) => `- ${r}`));
  const scrolling = result['scrolling'] as Array<Record<string, unknown>> | undefined;
  if (scrolling) {
    md.push('', '| preset (scrolling 10 s, 1280×720) | Mbit/s | painted fps | updates/s | server CPU (cores) | sharp after | last update | codings |', '|---|---|---|---|---|---|---|---|');
    for (const s of scrolling) {
      md.push(`| ${String(s['quality'])} | ${String(s['mbit_per_s'])} | ${String(s['painted_fps'])} | ${String(s['updates_per_s'])} | ${String(s['server_cpu_cores'])} | ${String(s['sharp_after_ms'])} ms | ${String(s['last_update'])} | ${String(s['codings_while_scrolling'])} |`);
    }
  }
  if (clientMd.length) md.push(...(md.length ? [''] : []), ...clientMd);
  console.log(`\n${md.join('\n')}\n`);
  // A partial run (--only, or one a phase ended) never overwrites the figures of a whole one.
  const dir = path.join(REPO_ROOT, 'bench', 'results');
  const name = `${arg('only') ? `session-bench-${[...ONLY].join('-')}` : 'session-bench'}${failure ? '-failed' : ''}`;
  writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(dir, `${name}.md`), `${md.join('\n')}\n`);
  log(`written to bench/results/${name}.{json,md}`);
  if (failure) throw failure;
}

await main();
