// Firefox preferences of every session (copied into the profile as user.js at start). One tab on
// one site per session: the helper processes Firefox keeps for many tabs, sites and media only
// cost memory here (measured: ~490 MiB per idle session with them, see bench/results).
// No preallocated content processes, one content process, no per-site isolation.
user_pref("dom.ipc.processPrelaunch.enabled", false);
user_pref("dom.ipc.processCount", 1);
user_pref("dom.ipc.processCount.webIsolated", 1);
user_pref("fission.autostart", false);
// Built-in extensions and privileged pages (new tab) in existing processes.
user_pref("extensions.webextensions.remote", false);
user_pref("browser.tabs.remote.separatePrivilegedContentProcess", false);
// Networking and media decoding in the parent process instead of their own.
user_pref("network.process.enabled", false);
user_pref("media.rdd-process.enabled", false);
user_pref("media.utility-process.enabled", false);
// No speculative work nobody will use.
user_pref("network.predictor.enabled", false);
user_pref("network.prefetch-next", false);
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.sessionstore.resume_from_crash", false);
// The profile lives in the container's tmpfs home, which is memory: no history database grown
// ahead in 10 MiB steps, no new-tab page preloaded in the background (measured: the profile
// 38 → 30 MB, the idle session 351 → 345 MiB).
user_pref("places.database.growthIncrementKiB", 0);
user_pref("browser.newtab.preload", false);
// Fewer wake-ups of an idle session: no session-restore snapshots (a crashed session is not
// restored anyway), no checks of the network's connectivity or speculative connections (the
// session's egress is the firewall's business).
user_pref("browser.sessionstore.interval", 3600000);
user_pref("browser.sessionstore.idleDelay", 3600000);
user_pref("network.connectivity-service.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("browser.places.speculativeConnect.enabled", false);
// A persistent session ends by closing Firefox's windows (hackstream-app-window --close), so that
// it saves its profile: no dialog may hold that quit back.
user_pref("browser.warnOnQuit", false);
user_pref("browser.tabs.warnOnClose", false);
user_pref("browser.sessionstore.warnOnQuit", false);
// ...and that quit returns as soon as every service has written its data (the profile-before-change
// phases), without waiting for the network's threads to wind down: a session's network drops
// what it may not reach, and a lookup or connection still pending held Firefox's exit for seconds.
user_pref("toolkit.shutdown.fastShutdownStage", 3);
